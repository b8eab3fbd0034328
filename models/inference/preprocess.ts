/**
 * Detector input preparation run by ONNX Runtime instead of JavaScript: the 8-bit RGB image
 * goes in as it is (HWC uint8) and a small graph resizes it (ONNX Resize, linear, antialiased
 * where it shrinks more than 3x: resizeNode; opset 18), transposes it to planes, pads it with
 * black on the right and bottom, and normalises it. Measured on the default pack with 640-px
 * photos: about 64 photos/s end to end against 59 with the same steps in JavaScript.
 *
 * The resize comes first and reads the 8-bit pixels: casting first made two float copies of the
 * whole image (24 bytes a pixel), which ONNX Runtime's arena then kept: a 36-megapixel image
 * left a worker 0.96 GB larger for good. Resizing 8-bit rounds each value to a whole level
 * (measured against the float order on a portrait: at most 0.97 of a level, 0.27 on average).
 *
 * Issue 14 (bench/detector-input.ts, one-thread CPU per 640-px photo, same values to the bit):
 * - DetectorInput: the Transpose and the normalisation go into the detector's own graph
 *   (onnx/input-fusion.ts), so one run, and no float tensor comes back into JavaScript between
 *   two (about 0.85 ms of copying and allocating for SCRFD's 4.9 MB one). What stays outside is
 *   the Resize, run here on 8-bit pixels with 8-bit output, and only where the image is not at
 *   the content size already (SCRFD letterboxes a 640-px image into 640x640 at scale 1; the
 *   padding is then a row copy in JavaScript).
 * - Where a detector cannot be fused (ImageToTensor): no Resize node when none is needed (the
 *   antialias kernel still walked every pixel), Transpose and Pad on the 8-bit pixels before
 *   they become floats, and (x - mean) / std as one DequantizeLinear where that gives the same
 *   floats (onnx/normalise.ts).
 * SCRFD-500M's input went from 2.8 to 0.7 ms a photo; UltraFace's stayed at about 2.3, nearly
 * all of it ONNX Runtime's antialias Resize kernel (640x480 to 320x240), until that kernel was
 * kept for shrinks of more than 3x (resizeNode): 0.9 ms. Round seven: a fused detector's linear
 * resize runs in C (native-resize.ts), ONNX Runtime's bytes: UltraFace's input 1.18 to 0.60 ms
 * a photo.
 */
import ort from 'onnxruntime-node';
import { buildOnnx, DataType, type ModelSpec, type NodeSpec } from './onnx/build.js';
import { fuseImageInput, PADS_INPUT, PIXELS_INPUT } from './onnx/input-fusion.js';
import { lazy } from './lazy.js';
import { nativeResize, type NativeResize } from './native-resize.js';
import { normalisationNodes } from './onnx/normalise.js';
import { openSession, type ModelSession } from './onnx/session.js';
import type { RgbImage } from './types.js';

/**
 * Linear, antialiased only where an axis shrinks more than 3x (ANTIALIAS_BEYOND). UltraFace's
 * 320x240 input is 2x to 2.7x smaller than a 640-px photo: there ONNX Runtime's antialias kernel
 * took 2.6 ms a photo and plain linear (two taps, as OpenCV's INTER_LINEAR that UltraFace was
 * trained with) takes 0.9 (bench/detector-input.ts). Measured on every shared photo at max_size
 * 640 (bench/detector-study.ts): the production detector found 719 of 974 reference faces with
 * 69 false boxes, against 709 and 67 with the antialias kernel at every shrink; the same with the
 * limit at 2x; pairs.csv AUC unchanged at max_size 160, 320 and 640 (bench/max-size-auc.ts).
 * Beyond 3x (max_size 0 on a large photo) two taps would skip most source pixels.
 */
const ANTIALIAS_BEYOND = 3;

const resizeNode = (antialias: boolean): NodeSpec => ({
  op: 'Resize', inputs: ['image', '', '', 'sizes'], outputs: ['resized'],
  str: { mode: 'linear', coordinate_transformation_mode: 'half_pixel' }, int: { antialias: antialias ? 1 : 0 },
});

/** Whether resizing w x h to cw x ch needs the antialias kernel (see resizeNode). */
export function needsAntialias(w: number, h: number, cw: number, ch: number): boolean {
  return cw * ANTIALIAS_BEYOND < w || ch * ANTIALIAS_BEYOND < h;
}

const int64 = (v: number[]) => new ort.Tensor('int64', BigInt64Array.from(v.map(BigInt)), [v.length]);

/** A resizing graph's inputs: the 8-bit HWC image, the Resize node's sizes, the padding. */
const RESIZING_INPUTS: Pick<ModelSpec, 'input' | 'extraInputs'> = {
  input: { name: 'image', shape: [1, 'h', 'w', 3], elemType: DataType.UINT8 },
  extraInputs: [
    { name: 'sizes', shape: [4], elemType: DataType.INT64 },
    { name: 'pads', shape: [8], elemType: DataType.INT64 },
  ],
};

/** How a graph resizes: not at all, or with the antialias kernel or without (resizeNode). */
export type Resizing = 'none' | 'linear' | 'antialias';

const resizingFor = (image: { width: number; height: number }, cw: number, ch: number): Resizing =>
  cw === image.width && ch === image.height ? 'none'
    : needsAntialias(image.width, image.height, cw, ch) ? 'antialias' : 'linear';

/** The input graph, with or without the Resize node. */
export function imageToTensorGraph(mean: number, std: number, resizing: Resizing): Uint8Array {
  const normalise = normalisationNodes('padded', 'tensor', mean, std);
  const resize = resizing !== 'none';
  const resizeNodes = resize ? [resizeNode(resizing === 'antialias')] : [];
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
 * reference the faster graphs are checked against (test/detector-input-graph.test.ts) and timed
 * against (bench/detector-input.ts). Same inputs as the resizing graph; `antialias` picks the
 * Resize kernel (before round four of issue 14 it was always the antialias one).
 */
export function referenceImageToTensorGraph(mean: number, std: number, antialias: boolean): Uint8Array {
  return buildOnnx({
    opset: 18,
    ...RESIZING_INPUTS,
    output: { name: 'tensor', shape: [1, 3, 'H', 'W'] },
    constants: { mean: { dims: [1], values: [mean] }, scale: { dims: [1], values: [1 / std] } },
    nodes: [
      resizeNode(antialias),
      { op: 'Cast', inputs: ['resized'], outputs: ['f'], int: { to: DataType.FLOAT } },
      { op: 'Transpose', inputs: ['f'], outputs: ['chw'], ints: { perm: [0, 3, 1, 2] } },
      { op: 'Pad', inputs: ['chw', 'pads'], outputs: ['padded'], str: { mode: 'constant' } },
      { op: 'Sub', inputs: ['padded', 'mean'], outputs: ['centred'] },
      { op: 'Mul', inputs: ['centred', 'scale'], outputs: ['tensor'] },
    ],
  });
}

export class ImageToTensor {
  private constructor(private readonly graphs: Record<Resizing, ModelSession>) {}

  /** Normalisation: (pixel - mean) / std, RGB planes. */
  static async create(mean: number, std: number): Promise<ImageToTensor> {
    const [none, linear, antialias] = await Promise.all(
      (['none', 'linear', 'antialias'] as const).map((r) => openSession(imageToTensorGraph(mean, std, r))),
    );
    return new ImageToTensor({ none, linear, antialias });
  }

  /** The image resized to contentW x contentH, padded to width x height. */
  async run(image: RgbImage, contentW: number, contentH: number, width: number, height: number): Promise<ort.Tensor> {
    const feeds: Record<string, ort.Tensor> = {
      image: new ort.Tensor('uint8', image.data, [1, image.height, image.width, 3]),
      pads: int64([0, 0, 0, 0, 0, 0, height - contentH, width - contentW]),
    };
    const resizing = resizingFor(image, contentW, contentH);
    if (resizing !== 'none') feeds.sizes = int64([1, contentH, contentW, 3]);
    const out = await this.graphs[resizing].run(feeds);
    return out.tensor;
  }
}

/**
 * The 8-bit pixels resized to contentW x contentH and padded with black to width x height, still
 * HWC: what a fused detector (input-fusion.ts) reads. Same Resize node as the graphs above.
 */
export function resizePixelsGraph(antialias: boolean): Uint8Array {
  return buildOnnx({
    opset: 18,
    ...RESIZING_INPUTS,
    output: { name: 'pixels', shape: [1, 'H', 'W', 3], elemType: DataType.UINT8 },
    nodes: [resizeNode(antialias), { op: 'Pad', inputs: ['resized', 'pads'], outputs: ['pixels'], str: { mode: 'constant' } }],
  });
}

/** The image padded with black to width x height (right and bottom), as 8-bit HWC pixels. */
export function padPixels(image: RgbImage, width: number, height: number): Uint8Array {
  if (image.width === width && image.height === height) return image.data;
  const out = new Uint8Array(width * height * 3);
  const row = image.width * 3;
  for (let y = 0; y < image.height; y++) out.set(image.data.subarray(y * row, (y + 1) * row), y * width * 3);
  return out;
}

/**
 * A detector run on an 8-bit image: the input prepared as the family asks (resized to
 * contentW x contentH, padded to the input's width x height, normalised) and the detector run
 * on it. Where the detector's graph takes it (input-fusion.ts), the normalisation runs inside
 * the detector's own session, counted under its role, and only a resize, when one is needed,
 * runs as the 'preprocess' graph; elsewhere ImageToTensor prepares the float input.
 */
export class DetectorInput {
  private constructor(
    private readonly detector: ModelSession,
    private readonly fused: ModelSession | undefined,
    private readonly toTensor: ImageToTensor | undefined,
    private readonly native: NativeResize | undefined,
  ) {}

  /** The Resize graphs, opened on first use (YuNet and RetinaFace never resize through them). */
  private readonly resizing = {
    linear: lazy(() => openSession(resizePixelsGraph(false))),
    antialias: lazy(() => openSession(resizePixelsGraph(true))),
  };

  /**
   * Falls back to ImageToTensor where the detector cannot be fused or its file cannot be read
   * again; `mean` per channel (RGB order) and BGR planes only for callers that check isFused
   * (ImageToTensor has neither). A fused detector's linear resize runs in C where the addon is
   * built (`native`; undefined: the Resize graph), the same bytes either way.
   */
  static async create(
    detector: ModelSession, mean: number | readonly number[], std: number, order: 'rgb' | 'bgr' = 'rgb', native = nativeResize(),
  ): Promise<DetectorInput> {
    const fused = await detector.derive((m) => fuseImageInput(m, mean, std, order)).catch(() => undefined);
    if (fused) return new DetectorInput(detector, fused, undefined, native);
    if (typeof mean !== 'number' || order !== 'rgb') return new DetectorInput(detector, undefined, undefined, undefined);
    return new DetectorInput(detector, undefined, await ImageToTensor.create(mean, std), undefined);
  }

  /** Whether the normalisation runs inside the detector's session. */
  get isFused(): boolean {
    return this.fused !== undefined;
  }

  async run(image: RgbImage, contentW: number, contentH: number, width: number, height: number): Promise<ort.InferenceSession.ReturnType> {
    if (!this.fused) {
      if (!this.toTensor) throw new Error('detector input not fused: the family prepares it itself');
      const tensor = await this.toTensor.run(image, contentW, contentH, width, height);
      return this.detector.run({ [this.detector.inputNames[0]]: tensor });
    }
    const padsInGraph = this.fused.inputNames.includes(PADS_INPUT);
    let pixels: ort.Tensor;
    const resizing = resizingFor(image, contentW, contentH);
    if (resizing === 'none') {
      pixels = padsInGraph
        ? new ort.Tensor('uint8', image.data, [1, image.height, image.width, 3])
        : new ort.Tensor('uint8', padPixels(image, width, height), [1, height, width, 3]);
    } else {
      // With the padding in the detector's graph, the resize pads nothing.
      const [padW, padH] = padsInGraph ? [0, 0] : [width - contentW, height - contentH];
      // ONNX Runtime reads an unchanged height as NCHW and takes its float path, which the C
      // resizer does not copy: that rare case stays with the graph.
      if (resizing === 'linear' && this.native && contentH !== image.height) {
        const [w, h] = [contentW + padW, contentH + padH];
        const resized = this.native.resizeLinear(image.data, image.width, image.height, contentW, contentH, w, h);
        pixels = new ort.Tensor('uint8', new Uint8Array(resized.buffer, resized.byteOffset, resized.byteLength), [1, h, w, 3]);
      } else {
        const out = await (await this.resizing[resizing]()).run({
          image: new ort.Tensor('uint8', image.data, [1, image.height, image.width, 3]),
          sizes: int64([1, contentH, contentW, 3]),
          pads: int64([0, 0, 0, 0, 0, padH, padW, 0]),
        });
        pixels = out.pixels;
      }
    }
    if (!padsInGraph) return this.fused.run({ [PIXELS_INPUT]: pixels });
    const [h, w] = [pixels.dims[1], pixels.dims[2]];
    return this.fused.run({ [PIXELS_INPUT]: pixels, [PADS_INPUT]: int64([0, 0, 0, 0, 0, height - h, width - w, 0]) });
  }
}
