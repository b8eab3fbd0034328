/** Small helpers shared by the detector families. */
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
