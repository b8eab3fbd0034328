/**
 * Load-time fusion of a detector's input preparation into its own graph: the float NCHW input
 * is replaced by 8-bit NHWC pixels, already at the input size, and nodes put before the
 * detector's own turn them into normalised planes (Transpose, then normalise.ts's nodes). One
 * run instead of two, and the float tensor (3.7 MB for 640x480, 4.9 MB for SCRFD's 640x640) no
 * longer comes back into JavaScript between them: measured in bench/detector-input.ts.
 * The detector's nodes and opset are untouched; the file on disk is never changed, and neither
 * is the model given (the result shares every part it does not change).
 */
import { create } from '@bufbuild/protobuf';
import { GraphProtoSchema, ModelProtoSchema, TensorProto_DataType, type ValueInfoProto } from 'onnx-buf';
import { DataType, initializers, node, valueInfo, type Dim } from './build.js';
import { opsetVersion, type ModelProto } from './model.js';
import { normalisationNodes } from './normalise.js';

/** The fused model's pixel input: uint8 [N, h, w, 3], RGB. */
export const PIXELS_INPUT = '__facerest_pixels';
/**
 * Where the opset has Pad with its pads as an input (11 on): the fused model's second input,
 * int64 [8], NHWC order; the pixels may then be smaller than the detector's input, and are
 * padded in the graph (on the 8-bit pixels), not copied into a padded buffer in JavaScript.
 */
export const PADS_INPUT = '__facerest_pads';
const PREFIX = '__facerest_input_';

function dimsOf(v: ValueInfoProto): Dim[] | undefined {
  if (v.type?.value.case !== 'tensorType') return undefined;
  const t = v.type.value.value;
  if (t.elemType !== TensorProto_DataType.FLOAT || !t.shape) return undefined;
  return t.shape.dim.map((d, i) => (d.value.case === 'dimValue' ? Number(d.value.value)
    : d.value.case === 'dimParam' && d.value.value ? d.value.value : `${PREFIX}dim${i}`));
}

/**
 * The model reading 8-bit RGB pixels, or undefined where it cannot be fused: not one float
 * input of shape [N, 3, H, W], an opset below 7 (Sub and Mul without broadcasting), or names
 * taken. `order`: the detector's planes (YuNet and RetinaFace read BGR); `mean` per channel in
 * RGB order, or one for all.
 */
export function fuseImageInput(model: ModelProto, mean: number | readonly number[], std: number, order: 'rgb' | 'bgr' = 'rgb'): ModelProto | undefined {
  const graph = model.graph;
  const opset = opsetVersion(model);
  if (!graph || opset < 7) return undefined;
  const initialised = new Set(graph.initializer.map((t) => t.name));
  const inputs = graph.input.filter((i) => !initialised.has(i.name));
  if (inputs.length !== 1) return undefined;
  const [input] = inputs;
  const dims = dimsOf(input);
  if (!dims || dims.length !== 4 || dims[1] !== 3) return undefined;
  const taken = [...graph.node.flatMap((n) => [n.name, ...n.output]), ...graph.input.map((i) => i.name), ...initialised];
  if (taken.some((n) => n.startsWith('__facerest_input') || n === PIXELS_INPUT || n === PADS_INPUT)) return undefined;

  const rgbPlanes = `${PREFIX}rgb_planes`;
  const planes = order === 'bgr' ? `${PREFIX}bgr_planes` : rgbPlanes;
  const padded = `${PREFIX}padded`;
  const padsInGraph = opset >= 11;
  // Means in the planes' order.
  const planeMean = typeof mean === 'number' || order === 'rgb' ? mean : [...mean].reverse();
  const normalise = normalisationNodes(planes, input.name, planeMean, std, { prefix: PREFIX, opset });
  const prepare = [
    ...(padsInGraph ? [{ op: 'Pad', inputs: [PIXELS_INPUT, PADS_INPUT], outputs: [padded], str: { mode: 'constant' }, name: `${PREFIX}pad` }] : []),
    { op: 'Transpose', inputs: [padsInGraph ? padded : PIXELS_INPUT], outputs: [rgbPlanes], ints: { perm: [0, 3, 1, 2] }, name: `${PREFIX}transpose` },
    ...(order === 'bgr' ? [{ op: 'Gather', inputs: [rgbPlanes, `${PREFIX}bgr`], outputs: [planes], int: { axis: 1 }, name: `${PREFIX}bgr` }] : []),
    ...normalise.nodes,
  ].map((n, i) => node(n, i));
  const constants = { ...normalise.constants, ...(order === 'bgr' ? { [`${PREFIX}bgr`]: { dims: [3], values: [2, 1, 0], int64: true } } : {}) };
  const pixels = valueInfo({
    name: PIXELS_INPUT, elemType: DataType.UINT8,
    shape: padsInGraph ? [dims[0], `${PREFIX}h`, `${PREFIX}w`, 3] : [dims[0], dims[2], dims[3], 3],
  });
  const pads = valueInfo({ name: PADS_INPUT, shape: [8], elemType: DataType.INT64 });
  return create(ModelProtoSchema, {
    ...model,
    graph: create(GraphProtoSchema, {
      ...graph,
      input: graph.input.flatMap((i) => (i !== input ? [i] : padsInGraph ? [pixels, pads] : [pixels])),
      node: [...prepare, ...graph.node],
      initializer: [...graph.initializer, ...initializers(constants)],
    }),
  });
}
