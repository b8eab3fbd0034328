/**
 * Face crops sampled into model inputs in C (native/sampling/): the aligned face's bilinear
 * sampling (affine.c), the alignment view's halving (halve.c) and the landmark model's gray
 * shrink (shrink-gray.c), the same values as sampling.ts's JavaScript loops, which run where the
 * addon was not built.
 */
import { addonStatus, loadAddon } from '../../native/addons.js';

export interface NativeSampling {
  /** sampling.ts's bilinear loop for any map, arguments spelled out (see affine.c). */
  sampleAffine(rgb: Uint8Array, width: number, height: number, a: number, b: number, c: number, d: number, e: number, f: number,
    out: Float32Array, outWidth: number, outHeight: number, gray: boolean, rPlane: number, gPlane: number, bPlane: number,
    meanR: number, meanG: number, meanB: number, invStdR: number, invStdG: number, invStdB: number): void;
  /** sampling.ts's halveRgb: the region x0..x1-1, y0..y1-1 at half the size (see halve.c). */
  halveRgb(rgb: Uint8Array, width: number, height: number, x0: number, y0: number, x1: number, y1: number): Buffer;
  /** sampling.ts's separable gray shrink over the given taps (see shrink-gray.c). */
  shrinkGray(rgb: Uint8Array, width: number, height: number, xFirst: Int32Array, xCount: Int32Array, xWeights: Float32Array, xSpan: number,
    yFirst: Int32Array, yCount: Int32Array, yWeights: Float32Array, ySpan: number, out: Float32Array, offset: number, mean: number, invStd: number): void;
}

/** The sampler this thread uses, or undefined: the JavaScript loop. */
export function nativeSampling(): NativeSampling | undefined {
  return loadAddon<NativeSampling>('facerest_sampling').addon;
}

/** Who samples the face crops, and why not C when not (the startup log). */
export function faceSamplingStatus(): string {
  return addonStatus('facerest_sampling', 'javascript');
}
