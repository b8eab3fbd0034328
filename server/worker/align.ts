/**
 * Face alignment: the least-squares similarity transform (rotation, uniform scale, translation)
 * that takes five detected landmarks onto InsightFace's ArcFace 112x112 template.
 */
import { halveRgb, type Affine } from '../../models/inference/sampling.js';
import type { RgbImage } from '../../models/inference/types.js';

export const ALIGNED_SIZE = 112;

/** Left eye, right eye, nose tip, left and right mouth corner, for a 112x112 crop. */
export const ARCFACE_TEMPLATE: readonly number[] = [
  38.2946, 51.6963, 73.5318, 51.5014, 56.0252, 71.7366, 41.5493, 92.3655, 70.7299, 92.2041,
];

/** Similarity x' = a*x - b*y + tx, y' = b*x + a*y + ty, as [a, b, tx, ty]. */
export type Similarity = [a: number, b: number, tx: number, ty: number];

/** Least-squares fit of a similarity taking `src` points onto `dst` points (x0,y0,x1,y1,...). */
export function fitSimilarity(src: ArrayLike<number>, dst: ArrayLike<number>): Similarity {
  const n = src.length / 2;
  let sx = 0, sy = 0, dx = 0, dy = 0;
  for (let i = 0; i < n; i++) {
    sx += src[2 * i]; sy += src[2 * i + 1]; dx += dst[2 * i]; dy += dst[2 * i + 1];
  }
  sx /= n; sy /= n; dx /= n; dy /= n;
  let dot = 0, cross = 0, norm = 0;
  for (let i = 0; i < n; i++) {
    const x = src[2 * i] - sx, y = src[2 * i + 1] - sy;
    const u = dst[2 * i] - dx, v = dst[2 * i + 1] - dy;
    dot += x * u + y * v;
    cross += x * v - y * u;
    norm += x * x + y * y;
  }
  if (norm === 0) throw new Error('degenerate landmarks: all five points coincide');
  const a = dot / norm;
  const b = cross / norm;
  return [a, b, dx - a * sx + b * sy, dy - b * sx - a * sy];
}

/** The inverse map (crop pixel -> image pixel) that the sampler needs. */
export function inverseAffine([a, b, tx, ty]: Similarity): Affine {
  const k = 1 / (a * a + b * b);
  // Inverse of [[a, -b], [b, a]] is k * [[a, b], [-b, a]].
  return [k * a, k * b, -k * (a * tx + b * ty), -k * b, k * a, -k * (-b * tx + a * ty)];
}

/** The map from aligned 112x112 face pixels to image pixels for five landmarks. */
export function alignmentMap(fivePoints: ArrayLike<number>): Affine {
  return inverseAffine(fitSimilarity(fivePoints, ARCFACE_TEMPLATE));
}

/** How many image pixels one aligned pixel may span before the face is first shrunk. */
const MAX_ALIGN_SPAN = 1.5;

/**
 * What the recognizer samples for one face: the image and the map from aligned pixels to it.
 * The rotated alignment samples bilinearly (four source pixels per aligned pixel), so a face much
 * larger than the aligned crop (one decoded from the original pixels, or any face over ~170 px)
 * would alias; the region the aligned crop covers is first halved (2x2 means) until one aligned
 * pixel spans at most MAX_ALIGN_SPAN of its pixels.
 *
 * Issue 14: halving replaced an antialiased shrink (a triangle filter as wide as the shrink) to
 * about one pixel per aligned pixel: a 303-px face's view 0.87 to 0.25 ms (bench/sampling.ts);
 * the worker's CPU outside ONNX Runtime 2.09 to 0.99 ms per 640-px photo (bench/worker-cpu.ts).
 * Embeddings moved little (cosine to the shrink's: median 0.998, lowest 0.9925 on the bench's
 * photos), and pairs.csv separates as well: d' 7.060 to 7.061 at max_size 640, 6.98 to 7.04 on
 * the original pixels, AUC 1.0000 at 320, 640, 1280 and 0.
 */
export function alignmentView(image: RgbImage, map: Affine): { image: RgbImage; map: Affine } {
  let view = image;
  let [a, b, c, d, e, f] = map;
  let span = Math.sqrt(Math.abs(a * e - b * d));
  while (span > MAX_ALIGN_SPAN) {
    const xs = [0, ALIGNED_SIZE].flatMap((u) => [0, ALIGNED_SIZE].map((v) => a * u + b * v + c));
    const ys = [0, ALIGNED_SIZE].flatMap((u) => [0, ALIGNED_SIZE].map((v) => d * u + e * v + f));
    // The bilinear taps reach a pixel past the crop's corners; two more for the halving's blocks.
    const x0 = Math.max(0, Math.floor(Math.min(...xs)) - 2);
    const y0 = Math.max(0, Math.floor(Math.min(...ys)) - 2);
    const x1 = Math.min(view.width, Math.ceil(Math.max(...xs)) + 3);
    const y1 = Math.min(view.height, Math.ceil(Math.max(...ys)) + 3);
    if (x1 - x0 < 2 || y1 - y0 < 2) break;
    view = halveRgb(view, x0, y0, x1, y1);
    // Halved pixel p is pixel 2p + 0.5 of the region, which starts at x0, y0.
    [a, b, c, d, e, f] = [a / 2, b / 2, (c - x0 - 0.5) / 2, d / 2, e / 2, (f - y0 - 0.5) / 2];
    span /= 2;
  }
  return { image: view, map: [a, b, c, d, e, f] };
}
