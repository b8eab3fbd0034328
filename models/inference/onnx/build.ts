/**
 * Writes small ONNX graphs: the preprocessing graphs the detectors run natively, and, in tests,
 * models of layouts no real model here has (InsightFace's genderage, MXNet-style in-graph
 * normalisation, PRelu with chosen slopes).
 */
import { create } from '@bufbuild/protobuf';
import {
  AttributeProto_AttributeType as AttributeType, AttributeProtoSchema, GraphProtoSchema, ModelProtoSchema,
  NodeProtoSchema, TensorProto_DataType as DataType, TensorProtoSchema, TensorShapeProto_DimensionSchema,
  TensorShapeProtoSchema, TypeProto_TensorSchema, TypeProtoSchema, ValueInfoProtoSchema,
} from 'onnx-buf';
import { writeModel } from './model.js';

export { DataType };

/** A fixed size, or a named symbolic one. */
export type Dim = number | string;

export interface NodeSpec {
  op: string;
  inputs: string[];
  outputs: string[];
  /** Default: `<op>_<position>`, unique within the graph. */
  name?: string;
  /** Integer-list, integer and string attributes. */
  ints?: Record<string, number[]>;
  int?: Record<string, number>;
  str?: Record<string, string>;
}

export interface TensorSpec {
  name: string;
  shape: Dim[];
  /** Default FLOAT. */
  elemType?: DataType;
}

export interface ModelSpec {
  input: TensorSpec;
  extraInputs?: TensorSpec[];
  output: TensorSpec;
  nodes: NodeSpec[];
  /** Constants by name, with their shape; FLOAT unless `int64` or `uint8` is set. */
  constants?: Record<string, { dims: number[]; values: number[]; int64?: boolean; uint8?: boolean }>;
  /** Default 13. */
  opset?: number;
}

export function valueInfo(t: TensorSpec) {
  const dim = t.shape.map((d) => create(TensorShapeProto_DimensionSchema, {
    value: typeof d === 'number' ? { case: 'dimValue', value: BigInt(d) } : { case: 'dimParam', value: d },
  }));
  return create(ValueInfoProtoSchema, {
    name: t.name,
    type: create(TypeProtoSchema, {
      value: {
        case: 'tensorType',
        value: create(TypeProto_TensorSchema, { elemType: t.elemType ?? DataType.FLOAT, shape: create(TensorShapeProtoSchema, { dim }) }),
      },
    }),
  });
}

export function node(n: NodeSpec, position: number) {
  const attribute = [
    ...Object.entries(n.ints ?? {}).map(([name, v]) => create(AttributeProtoSchema, { name, type: AttributeType.INTS, ints: v.map(BigInt) })),
    ...Object.entries(n.int ?? {}).map(([name, v]) => create(AttributeProtoSchema, { name, type: AttributeType.INT, i: BigInt(v) })),
    ...Object.entries(n.str ?? {}).map(([name, v]) => create(AttributeProtoSchema, { name, type: AttributeType.STRING, s: new TextEncoder().encode(v) })),
  ];
  return create(NodeProtoSchema, { input: n.inputs, output: n.outputs, name: n.name ?? `${n.op}_${position}`, opType: n.op, attribute });
}

export type Constants = NonNullable<ModelSpec['constants']>;

export function initializers(constants: Constants) {
  return Object.entries(constants).map(([name, { dims, values, int64, uint8 }]) => {
    const data = int64 ? BigInt64Array.from(values.map(BigInt)) : uint8 ? Uint8Array.from(values) : Float32Array.from(values);
    const dataType = int64 ? DataType.INT64 : uint8 ? DataType.UINT8 : DataType.FLOAT;
    return create(TensorProtoSchema, { name, dims: dims.map(BigInt), dataType, rawData: new Uint8Array(data.buffer) });
  });
}

export function buildOnnx(spec: ModelSpec): Uint8Array {
  const initializer = initializers(spec.constants ?? {});
  return writeModel(create(ModelProtoSchema, {
    irVersion: 8n,
    opsetImport: [{ domain: '', version: BigInt(spec.opset ?? 13) }],
    graph: create(GraphProtoSchema, {
      name: 'facerest_graph',
      node: spec.nodes.map(node),
      initializer,
      input: [spec.input, ...(spec.extraInputs ?? [])].map(valueInfo),
      output: [valueInfo(spec.output)],
    }),
  }));
}
