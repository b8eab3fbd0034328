/** Small helpers shared by the detector families. */
import type { Detection, RgbImage } from '../types.js';

/** The image's own size rounded up to a multiple of `multiple` (padding goes right and bottom). */
export function dynamicInputSize(image: RgbImage, multiple: number): { width: number; height: number } {
  const up = (n: number) => Math.max(multiple, Math.ceil(n / multiple) * multiple);
  return { width: up(image.width), height: up(image.height) };
}

/** Keeps the box inside the image. */
export function clipDetection(d: Detection, image: RgbImage): Detection {
  const [x1, y1, x2, y2] = d.box;
  d.box = [Math.max(0, x1), Math.max(0, y1), Math.min(image.width, x2), Math.min(image.height, y2)];
  return d;
}
