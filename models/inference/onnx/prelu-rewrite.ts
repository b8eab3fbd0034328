/**
 * Load-time graph rewrite of PRelu, whose ONNX Runtime CPU kernel is slow:
 *   PRelu(x, a) -> Add(Relu(x), Mul(Relu(Mul(x, -1)), -a))
 * which is exactly PRelu's value: one of the two terms is zero (x >= 0: x + 0; x < 0: 0 + ax),
 * and negating is exact. Every operator in it is one that ONNX Runtime's blocked (NCHWc) conv
 * layout keeps: the two Muls by a per-channel constant become 1x1 depthwise convolutions, the
 * Relu folds into the first, the Add into the second. The earlier forms, Where(Greater(x, 0), x,
 * Mul(x, a)) and Max(x, Mul(x, a)), were exact too but left that layout, so each PRelu took
 * three reorders in and out of it (67 and 33 over the default recognizer). On the default
 * pack's recognizer (33 PRelu): 11.1 ms a face as PRelu, 7.7 as Where, 5.4 in this form (CPU
 * time, one thread, interleaved: bench/throughput-history.md, round nine), embeddings
 * bit-identical (test/graph-rewrite.test.ts).
 * Only PRelu nodes whose slope is a float initializer are rewritten; the file on disk is never
 * touched, and neither is the model given: the result shares every part it does not change.
 */
import { create } from '@bufbuild/protobuf';
import { GraphProtoSchema, ModelProtoSchema, NodeProtoSchema, TensorProto_DataType, TensorProtoSchema } from 'onnx-buf';
import { floatValues, opsetVersion, type ModelProto, type NodeProto, type TensorProto } from './model.js';

export interface RewriteResult {
  model: ModelProto;
  /** PRelu nodes replaced. */
  rewritten: number;
}

/** The model with eligible PRelu nodes rewritten, or undefined when there is nothing to do. */
export function rewritePrelu(model: ModelProto): RewriteResult | undefined {
  const graph = model.graph;
  // Mul and Add broadcast a per-channel slope from opset 7 on.
  if (!graph || opsetVersion(model) < 7) return undefined;
  const initializers = new Map(graph.initializer.map((t) => [t.name, t]));
  const nodeNames = new Set(graph.node.map((n) => n.name));
  const valueNames = new Set([...graph.initializer.map((t) => t.name), ...graph.input.map((v) => v.name),
    ...graph.node.flatMap((n) => n.output)]);
  /** `wanted`, or `wanted_2`, `wanted_3`...: names stay unique even where the file has none. */
  const unique = (taken: Set<string>, wanted: string) => {
    let name = wanted;
    for (let i = 2; taken.has(name); i++) name = `${wanted}_${i}`;
    taken.add(name);
    return name;
  };
  const op = (opType: string, input: string[], output: string[], name: string): NodeProto =>
    create(NodeProtoSchema, { opType, input, output, name: unique(nodeNames, name) });

  const added: TensorProto[] = [];
  const initializer = (name: string, dims: bigint[], values: Float32Array<ArrayBuffer>) => {
    const tensor = create(TensorProtoSchema, {
      name: unique(valueNames, name), dataType: TensorProto_DataType.FLOAT, dims, rawData: new Uint8Array(values.buffer),
    });
    added.push(tensor);
    return tensor.name;
  };
  /**
   * -1 and -a for a slope that is a float initializer (undefined for any other), shaped as the
   * slope, so that ONNX Runtime sees per-channel constants; made once per slope tensor.
   */
  const constants = new Map<string, { minusOne: string; negated: string } | undefined>();
  const constantsOf = (slope: string) => {
    if (!constants.has(slope)) {
      const tensor = initializers.get(slope);
      const values = tensor && floatValues(tensor);
      constants.set(slope, tensor && values ? {
        minusOne: initializer(`${slope}__prelu_minus_one`, tensor.dims, Float32Array.from(values, () => -1)),
        negated: initializer(`${slope}__prelu_negated`, tensor.dims, Float32Array.from(values, (v) => -v)),
      } : undefined);
    }
    return constants.get(slope);
  };

  let rewritten = 0;
  const nodes: NodeProto[] = [];
  graph.node.forEach((n, position) => {
    const [x, slope] = n.input;
    const made = n.opType === 'PRelu' ? constantsOf(slope) : undefined;
    if (!made) {
      nodes.push(n);
      return;
    }
    const { minusOne, negated } = made;
    const base = n.name || `prelu_${position}`;
    const y = n.output[0];
    const value = (suffix: string) => unique(valueNames, `${y}__prelu_${suffix}`);
    const [positive, flipped, negative, scaled] = [value('positive'), value('flipped'), value('negative'), value('scaled')];
    nodes.push(op('Relu', [x], [positive], `${base}__relu`));
    nodes.push(op('Mul', [x, minusOne], [flipped], `${base}__flip`));
    nodes.push(op('Relu', [flipped], [negative], `${base}__relu_flipped`));
    nodes.push(op('Mul', [negative, negated], [scaled], `${base}__scale`));
    nodes.push(op('Add', [positive, scaled], n.output, `${base}__add`));
    rewritten++;
  });
  if (rewritten === 0) return undefined;
  return {
    model: create(ModelProtoSchema, {
      ...model, graph: create(GraphProtoSchema, { ...graph, node: nodes, initializer: [...graph.initializer, ...added] }),
    }),
    rewritten,
  };
}
