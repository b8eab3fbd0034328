/**
 * Face alignment: the least-squares similarity transform (rotation, uniform scale, translation)
 * that takes five detected landmarks onto InsightFace's ArcFace 112x112 template.
 */
import type { Affine } from '../../models/inference/sampling.js';

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
