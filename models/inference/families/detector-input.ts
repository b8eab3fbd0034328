/** Small helpers shared by the detector families. */
import ort from 'onnxruntime-node';
import { lazy } from '../lazy.js';
import type { ModelSession } from '../onnx/session.js';
import { DetectorInput } from '../preprocess.js';
import { resizeAffine, sampleToTensor } from '../sampling.js';
import type { Detection, RgbImage } from '../types.js';

/**
 * Detectors with a dynamic input run at the image's own size, but at most at this many pixels.
 * ONNX Runtime holds about 50 bytes per input pixel while they run (measured: +590 MB at
 * 12 megapixels), so a 100-megapixel image at max_size 0 would take 5 GB in one worker; at
 * 16 megapixels a worker stays under about 0.9 GB, and faces of 20 px in a 100-megapixel
 * photo are still 8 px at the detector.
 */
export const MAX_DYNAMIC_INPUT_PIXELS = 16_000_000;

/**
 * The input for a dynamic detector: the image at `scale` (1, or less for images over
 * MAX_DYNAMIC_INPUT_PIXELS), its size rounded up to a multiple of `multiple` (padding goes
 * right and bottom). Detections are divided by `scale` to come back to image pixels.
 */
export function dynamicInputSize(image: RgbImage, multiple: number): { width: number; height: number; scale: number } {
  const scale = Math.min(1, Math.sqrt(MAX_DYNAMIC_INPUT_PIXELS / (image.width * image.height)));
  const up = (n: number) => Math.max(multiple, Math.ceil((n * scale) / multiple) * multiple);
  return { width: up(image.width), height: up(image.height), scale };
}

/** Keeps the box inside the image. */
export function clipDetection(d: Detection, image: RgbImage): Detection {
  const [x1, y1, x2, y2] = d.box;
  d.box = [Math.max(0, x1), Math.max(0, y1), Math.min(image.width, x2), Math.min(image.height, y2)];
  return d;
}

/**
 * The input of a detector that reads BGR planes of any size without a std (YuNet, RetinaFace),
 * and the run on it. At scale 1 (the usual case: max_size decodes small enough) the padding,
 * BGR order and mean run inside the detector's graph (preprocess.ts, DetectorInput): the same
 * floats as sampleToTensor's copy, without making them in JavaScript (4.9 MB per 640x640 input).
 * Below scale 1, or where the graph cannot take them, JavaScript makes them (antialiased).
 */
export class BgrDetectorInput {
  private readonly fused = lazy(() => DetectorInput.create(this.session, this.mean, 1, 'bgr'));

  /** `mean` per channel in R, G, B order, or one for all. */
  constructor(private readonly session: ModelSession, private readonly mean: number | readonly number[]) {}

  /** The detector's outputs for `image` at `scale`, in a W x H input (padded right and bottom). */
  async run(image: RgbImage, scale: number, W: number, H: number): Promise<ort.InferenceSession.ReturnType> {
    if (scale === 1) {
      const fused = await this.fused();
      if (fused.isFused) return fused.run(image, image.width, image.height, W, H);
    }
    const input = new Float32Array(3 * W * H);
    sampleToTensor(image, resizeAffine(1 / scale, 1 / scale), {
      out: input, offset: 0, width: W, height: H, layout: 'bgr', mean: this.mean, std: 1, antialias: true,
    });
    return this.session.run({ [this.session.inputNames[0]]: new ort.Tensor('float32', input, [1, 3, H, W]) });
  }
}
