/**
 * Pixel sampling into model input tensors. Every preprocessing step the families need
 * (stretch, letterbox, crop-and-resize, face alignment) is an affine map from tensor pixels to
 * image pixels, so one bilinear sampler covers them all and no intermediate image is built.
 */
import type { Normalisation, RgbImage } from './types.js';

/** Maps a destination pixel (u, v) to source coordinates: x = a*u + b*v + c, y = d*u + e*v + f. */
export type Affine = [a: number, b: number, c: number, d: number, e: number, f: number];

/** Scale-only map for resizing with pixel centres aligned (as OpenCV's INTER_LINEAR resize). */
export function resizeAffine(scaleX: number, scaleY: number, offsetX = 0, offsetY = 0): Affine {
  return [scaleX, 0, 0.5 * scaleX - 0.5 + offsetX, 0, scaleY, 0.5 * scaleY - 0.5 + offsetY];
}

export type ChannelLayout = Normalisation['order'] | 'gray';

export interface SampleTarget {
  /** Planar (CHW) float tensor data to write into. */
  out: Float32Array;
  /** Element offset of this image within `out` (for batches). */
  offset: number;
  width: number;
  height: number;
  layout: ChannelLayout;
  /** One value for all channels, or per channel in R, G, B order. */
  mean: number | readonly number[];
  std: number | readonly number[];
  /** Average over the source footprint when shrinking (detectors); off = plain bilinear. */
  antialias?: boolean;
}

/** Adds the bilinear sample at (x, y) times `w` into acc[0..2]; outside pixels read as 0. */
function addBilinear(src: RgbImage, x: number, y: number, w: number, acc: Float64Array): void {
  const { data, width: sw, height: sh } = src;
  const x0 = Math.floor(x);
  const y0 = Math.floor(y);
  if (x0 < -1 || y0 < -1 || x0 >= sw || y0 >= sh) return;
  const fx = x - x0;
  const fy = y - y0;
  const stride = sw * 3;
  const p = y0 * stride + x0 * 3;
  const inX0 = x0 >= 0;
  const inX1 = x0 + 1 < sw;
  if (y0 >= 0) {
    const wy = w * (1 - fy);
    if (inX0) { const k = wy * (1 - fx); acc[0] += k * data[p]; acc[1] += k * data[p + 1]; acc[2] += k * data[p + 2]; }
    if (inX1) { const k = wy * fx; acc[0] += k * data[p + 3]; acc[1] += k * data[p + 4]; acc[2] += k * data[p + 5]; }
  }
  if (y0 + 1 < sh) {
    const wy = w * fy;
    const q = p + stride;
    if (inX0) { const k = wy * (1 - fx); acc[0] += k * data[q]; acc[1] += k * data[q + 1]; acc[2] += k * data[q + 2]; }
    if (inX1) { const k = wy * fx; acc[0] += k * data[q + 3]; acc[1] += k * data[q + 4]; acc[2] += k * data[q + 5]; }
  }
}

/**
 * Writes normalised planar channels of `src` sampled through `map` into `target`. Pixels that
 * fall outside the source read as black (0), like a zero-padded letterbox. With `antialias`, when
 * the map shrinks by more than 2x, each tensor pixel averages an n x n grid of samples over its footprint:
 * plain bilinear would skip most source pixels and alias (a 1366-wide photo stretched to a
 * 320-wide detector input moved boxes by over 10% of the face width).
 */
export function sampleToTensor(src: RgbImage, map: Affine, target: SampleTarget): void {
  const { out, offset, width: dw, height: dh, layout, mean, std } = target;
  const [a, b, c, d, e, f] = map;
  const plane = dw * dh;
  const perChannel = (v: number | readonly number[]) => (typeof v === 'number' ? [v, v, v] : v);
  const [mr, mg, mb] = perChannel(mean);
  const [ir, ig, ib] = perChannel(std).map((x) => 1 / x);
  const gray = layout === 'gray';
  // Channel planes: index 0 receives R for 'rgb' and B for 'bgr'.
  const rPlane = offset + (layout === 'bgr' ? 2 * plane : 0);
  const gPlane = offset + plane;
  const bPlane = offset + (layout === 'bgr' ? 0 : 2 * plane);
  const shrink = Math.max(Math.hypot(a, d), Math.hypot(b, e));
  // Up to 2x, bilinear with centred pixels already averages every source pixel.
  const n = target.antialias && shrink > 2 ? Math.ceil(shrink) : 1;
  const offsets = Array.from({ length: n }, (_, i) => (i + 0.5) / n - 0.5);
  const weight = 1 / (n * n);
  const acc = new Float64Array(3);
  for (let v = 0; v < dh; v++) {
    for (let u = 0; u < dw; u++) {
      acc[0] = 0; acc[1] = 0; acc[2] = 0;
      if (n === 1) {
        addBilinear(src, a * u + b * v + c, d * u + e * v + f, 1, acc);
      } else {
        for (const ov of offsets) {
          for (const ou of offsets) {
            const uu = u + ou;
            const vv = v + ov;
            addBilinear(src, a * uu + b * vv + c, d * uu + e * vv + f, weight, acc);
          }
        }
      }
      const i = v * dw + u;
      if (gray) {
        out[offset + i] = (0.299 * acc[0] + 0.587 * acc[1] + 0.114 * acc[2] - mr) * ir;
      } else {
        out[rPlane + i] = (acc[0] - mr) * ir;
        out[gPlane + i] = (acc[1] - mg) * ig;
        out[bPlane + i] = (acc[2] - mb) * ib;
      }
    }
  }
}

/** Same sampling, written as packed 8-bit RGB (aligned crops, kept for face_data and embedding). */
export function sampleToRgb(src: RgbImage, map: Affine, width: number, height: number): RgbImage {
  const [a, b, c, d, e, f] = map;
  const data = new Uint8Array(width * height * 3);
  const acc = new Float64Array(3);
  for (let v = 0, o = 0; v < height; v++) {
    for (let u = 0; u < width; u++, o += 3) {
      acc[0] = 0; acc[1] = 0; acc[2] = 0;
      addBilinear(src, a * u + b * v + c, d * u + e * v + f, 1, acc);
      data[o] = Math.round(acc[0]);
      data[o + 1] = Math.round(acc[1]);
      data[o + 2] = Math.round(acc[2]);
    }
  }
  return { data, width, height };
}
