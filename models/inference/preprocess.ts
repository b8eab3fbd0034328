/**
 * Detector input preparation run by ONNX Runtime instead of JavaScript: the 8-bit RGB image
 * goes in as it is (HWC uint8) and a small graph resizes it with antialiasing (ONNX Resize,
 * linear, opset 18), transposes it to planes, pads it with black on the right and bottom, and
 * normalises it. Measured on the default pack with 640-px photos: about 64 photos/s end to end
 * against 59 with the same steps in JavaScript.
 *
 * The resize comes first and reads the 8-bit pixels: casting first made two float copies of the
 * whole image (24 bytes a pixel), which ONNX Runtime's arena then kept: a 36-megapixel image
 * left a worker 0.96 GB larger for good. Resizing 8-bit rounds each value to a whole level
 * (measured against the float order on a portrait: at most 0.97 of a level, 0.27 on average).
 *
 * Issue 14 (bench/detector-input.ts, one-thread CPU per 640-px photo, same values to the bit):
 * - No Resize node when the image already has the content size (SCRFD letterboxes a 640-px
 *   image into 640x640 at scale 1): ONNX Runtime's antialias kernel still walked every pixel.
 * - Transpose and Pad on the 8-bit pixels, before they become floats (a quarter of the bytes).
 * - (x - mean) / std as one DequantizeLinear ((x - zero point) * scale) where that gives the
 *   same floats (checked for all 256 levels when the graph is built), instead of Cast, Sub and
 *   Mul: three passes over the float tensor become one, or two for a mean of 127.5.
 */
import ort from 'onnxruntime-node';
import { buildOnnx, DataType, type ModelSpec, type NodeSpec } from './onnx/build.js';
import { openSession, type ModelSession } from './onnx/session.js';
import type { RgbImage } from './types.js';

type Constants = NonNullable<ModelSpec['constants']>;

/**
 * The nodes that turn 8-bit `input` into (input - mean) / std as float32 `output`, written as
 * the reference Cast, Sub(mean), Mul(1/std) computes it. DequantizeLinear computes
 * float(x - zero point) * scale; with zp = floor(mean) and the rest of the mean subtracted
 * afterwards that is the same float for every level when std is a power of two and the mean
 * a multiple of 1/2 (both families' values), and for other values it may not be, so each of
 * the 256 levels is checked here in float32 and the reference nodes are used on any mismatch.
 */
export function normalisationNodes(input: string, output: string, mean: number, std: number): { nodes: NodeSpec[]; constants: Constants } {
  const f = Math.fround;
  const scale = f(1 / std);
  const zeroPoint = Math.min(255, Math.max(0, Math.floor(mean)));
  const rest = f(f(mean - zeroPoint) * scale);
  let exact = true;
  for (let x = 0; x < 256 && exact; x++) {
    const reference = f(f(x - f(mean)) * scale);
    const dequantised = f((x - zeroPoint) * scale);
    exact = (rest === 0 ? dequantised : f(dequantised - rest)) === reference;
  }
  if (!exact) {
    return {
      nodes: [
        { op: 'Cast', inputs: [input], outputs: [`${output}_f`], int: { to: DataType.FLOAT } },
        { op: 'Sub', inputs: [`${output}_f`, 'mean'], outputs: [`${output}_centred`] },
        { op: 'Mul', inputs: [`${output}_centred`, 'scale'], outputs: [output] },
      ],
      constants: { mean: { dims: [], values: [mean] }, scale: { dims: [], values: [scale] } },
    };
  }
  const dequantised = rest === 0 ? output : `${output}_dq`;
  const nodes: NodeSpec[] = [{ op: 'DequantizeLinear', inputs: [input, 'scale', 'zero_point'], outputs: [dequantised] }];
  if (rest !== 0) nodes.push({ op: 'Sub', inputs: [dequantised, 'rest'], outputs: [output] });
  return {
    nodes,
    constants: {
      scale: { dims: [], values: [scale] },
      zero_point: { dims: [], values: [zeroPoint], uint8: true },
      ...(rest !== 0 ? { rest: { dims: [], values: [rest] } } : {}),
    },
  };
}

/** The input graph, with or without the Resize node. */
export function imageToTensorGraph(mean: number, std: number, resize: boolean): Uint8Array {
  const normalise = normalisationNodes('padded', 'tensor', mean, std);
  const resizeNodes: NodeSpec[] = resize ? [{
    op: 'Resize', inputs: ['image', '', '', 'sizes'], outputs: ['resized'],
    str: { mode: 'linear', coordinate_transformation_mode: 'half_pixel' }, int: { antialias: 1 },
  }] : [];
  return buildOnnx({
    opset: 18,
    input: { name: 'image', shape: [1, 'h', 'w', 3], elemType: DataType.UINT8 },
    extraInputs: [
      ...(resize ? [{ name: 'sizes', shape: [4], elemType: DataType.INT64 }] : []),
      { name: 'pads', shape: [8], elemType: DataType.INT64 },
    ],
    output: { name: 'tensor', shape: [1, 3, 'H', 'W'] },
    constants: normalise.constants,
    nodes: [
      ...resizeNodes,
      { op: 'Transpose', inputs: [resize ? 'resized' : 'image'], outputs: ['chw'], ints: { perm: [0, 3, 1, 2] } },
      // Black (0) before normalising, as the reference graph padded.
      { op: 'Pad', inputs: ['chw', 'pads'], outputs: ['padded'], str: { mode: 'constant' } },
      ...normalise.nodes,
    ],
  });
}

/**
 * The graph as it was before issue 14 (Resize, Cast, Transpose, Pad, Sub, Mul on floats): the
 * reference the faster graphs are checked against (test/detector-input.test.ts) and timed
 * against (bench/detector-input.ts). Same inputs as the resizing graph.
 */
export function referenceImageToTensorGraph(mean: number, std: number): Uint8Array {
  return buildOnnx({
    opset: 18,
    input: { name: 'image', shape: [1, 'h', 'w', 3], elemType: DataType.UINT8 },
    extraInputs: [
      { name: 'sizes', shape: [4], elemType: DataType.INT64 },
      { name: 'pads', shape: [8], elemType: DataType.INT64 },
    ],
    output: { name: 'tensor', shape: [1, 3, 'H', 'W'] },
    constants: { mean: { dims: [1], values: [mean] }, scale: { dims: [1], values: [1 / std] } },
    nodes: [
      {
        op: 'Resize', inputs: ['image', '', '', 'sizes'], outputs: ['resized'],
        str: { mode: 'linear', coordinate_transformation_mode: 'half_pixel' }, int: { antialias: 1 },
      },
      { op: 'Cast', inputs: ['resized'], outputs: ['f'], int: { to: DataType.FLOAT } },
      { op: 'Transpose', inputs: ['f'], outputs: ['chw'], ints: { perm: [0, 3, 1, 2] } },
      { op: 'Pad', inputs: ['chw', 'pads'], outputs: ['padded'], str: { mode: 'constant' } },
      { op: 'Sub', inputs: ['padded', 'mean'], outputs: ['centred'] },
      { op: 'Mul', inputs: ['centred', 'scale'], outputs: ['tensor'] },
    ],
  });
}

export class ImageToTensor {
  private constructor(private readonly resizing: ModelSession, private readonly plain: ModelSession) {}

  /** Normalisation: (pixel - mean) / std, RGB planes. */
  static async create(mean: number, std: number): Promise<ImageToTensor> {
    const [resizing, plain] = await Promise.all([
      openSession(imageToTensorGraph(mean, std, true)), openSession(imageToTensorGraph(mean, std, false)),
    ]);
    return new ImageToTensor(resizing, plain);
  }

  /** The image resized to contentW x contentH, padded to width x height. */
  async run(image: RgbImage, contentW: number, contentH: number, width: number, height: number): Promise<ort.Tensor> {
    const int64 = (v: number[]) => new ort.Tensor('int64', BigInt64Array.from(v.map(BigInt)), [v.length]);
    const feeds: Record<string, ort.Tensor> = {
      image: new ort.Tensor('uint8', image.data, [1, image.height, image.width, 3]),
      pads: int64([0, 0, 0, 0, 0, 0, height - contentH, width - contentW]),
    };
    const same = contentW === image.width && contentH === image.height;
    if (!same) feeds.sizes = int64([1, contentH, contentW, 3]);
    const out = await (same ? this.plain : this.resizing).run(feeds);
    return out.tensor;
  }
}
