/**
 * What an aligned face's pixels say about its quality. Measured in the aligned 112x112 frame,
 * where the recognizer looks, so every face is judged at the resolution it is embedded at, and
 * only over the inner face (eyes, nose, mouth) so that background and hair do not count. The
 * scores built from these figures are in server/pipeline/quality.ts.
 */
import type { Affine } from '../../models/inference/sampling.js';
import { sampleToTensor } from '../../models/inference/sampling.js';
import type { RgbImage } from '../../models/inference/types.js';

export interface FacePixels {
  /**
   * Variance of the 4-neighbour Laplacian over the variance of the luma: the share of the
   * face's contrast in its finest detail. A ratio, so a dark or low-contrast face is not
   * called blurred for that alone (brightness says that).
   */
  detail: number;
  /** Mean luma in [0, 1]. */
  brightness: number;
}

/** The inner face in aligned pixels: from above the eyebrows' inner ends to below the mouth. */
const REGION = { x: 28, y: 36, width: 56, height: 64 };

/** measureFace's scratch, one per thread: it is filled and read within one synchronous call. */
const LUMA = new Float32Array(REGION.width * REGION.height);

export function measureFace(view: { image: RgbImage; map: Affine }): FacePixels {
  const { width: w, height: h } = REGION;
  const [a, b, c, d, e, f] = view.map;
  // The map taken from the region's corner instead of the crop's.
  const map: Affine = [a, b, c + a * REGION.x + b * REGION.y, d, e, f + d * REGION.x + e * REGION.y];
  const luma = LUMA;
  sampleToTensor(view.image, map, { out: luma, offset: 0, width: w, height: h, layout: 'gray', mean: 0, std: 255 });
  let sum = 0, sumSq = 0;
  for (const v of luma) { sum += v; sumSq += v * v; }
  const n = w * h;
  const mean = sum / n;
  const variance = Math.max(0, sumSq / n - mean * mean);
  let lSum = 0, lSumSq = 0;
  for (let y = 1; y < h - 1; y++) {
    for (let x = 1; x < w - 1; x++) {
      const i = y * w + x;
      const l = luma[i - 1] + luma[i + 1] + luma[i - w] + luma[i + w] - 4 * luma[i];
      lSum += l; lSumSq += l * l;
    }
  }
  const m = (w - 2) * (h - 2);
  const lMean = lSum / m;
  const lVariance = Math.max(0, lSumSq / m - lMean * lMean);
  return { detail: variance > 0 ? lVariance / variance : 0, brightness: mean };
}
