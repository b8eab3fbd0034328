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
  mean: number;
  std: number;
}

/**
 * Writes normalised planar channels of `src` sampled through `map` into `target`. Pixels that
 * fall outside the source read as black (0), like a zero-padded letterbox.
 */
export function sampleToTensor(src: RgbImage, map: Affine, target: SampleTarget): void {
  const { data, width: sw, height: sh } = src;
  const { out, offset, width: dw, height: dh, layout, mean, std } = target;
  const [a, b, c, d, e, f] = map;
  const plane = dw * dh;
  const inv = 1 / std;
  const gray = layout === 'gray';
  // Channel planes: index 0 receives R for 'rgb' and B for 'bgr'.
  const rPlane = offset + (layout === 'bgr' ? 2 * plane : 0);
  const gPlane = offset + plane;
  const bPlane = offset + (layout === 'bgr' ? 0 : 2 * plane);
  const stride = sw * 3;
  for (let v = 0; v < dh; v++) {
    let x = b * v + c;
    let y = e * v + f;
    for (let u = 0; u < dw; u++, x += a, y += d) {
      let r = 0;
      let g = 0;
      let bl = 0;
      const x0 = Math.floor(x);
      const y0 = Math.floor(y);
      if (x0 >= -1 && y0 >= -1 && x0 < sw && y0 < sh) {
        const fx = x - x0;
        const fy = y - y0;
        const w00 = (1 - fx) * (1 - fy);
        const w10 = fx * (1 - fy);
        const w01 = (1 - fx) * fy;
        const w11 = fx * fy;
        const inX0 = x0 >= 0;
        const inX1 = x0 + 1 < sw;
        const inY0 = y0 >= 0;
        const inY1 = y0 + 1 < sh;
        const p = y0 * stride + x0 * 3;
        if (inY0 && inX0) { r += w00 * data[p]; g += w00 * data[p + 1]; bl += w00 * data[p + 2]; }
        if (inY0 && inX1) { r += w10 * data[p + 3]; g += w10 * data[p + 4]; bl += w10 * data[p + 5]; }
        if (inY1 && inX0) { const q = p + stride; r += w01 * data[q]; g += w01 * data[q + 1]; bl += w01 * data[q + 2]; }
        if (inY1 && inX1) { const q = p + stride + 3; r += w11 * data[q]; g += w11 * data[q + 1]; bl += w11 * data[q + 2]; }
      }
      const i = v * dw + u;
      if (gray) {
        out[offset + i] = (0.299 * r + 0.587 * g + 0.114 * bl - mean) * inv;
      } else {
        out[rPlane + i] = (r - mean) * inv;
        out[gPlane + i] = (g - mean) * inv;
        out[bPlane + i] = (bl - mean) * inv;
      }
    }
  }
}

/** Same sampling, but to packed 8-bit RGB (for aligned crops handed to recognizers). */
export function sampleToRgb(src: RgbImage, map: Affine, width: number, height: number): RgbImage {
  const plane = width * height;
  const tmp = new Float32Array(plane * 3);
  sampleToTensor(src, map, { out: tmp, offset: 0, width, height, layout: 'rgb', mean: 0, std: 1 });
  const data = new Uint8Array(plane * 3);
  for (let i = 0; i < plane; i++) {
    data[i * 3] = Math.round(tmp[i]);
    data[i * 3 + 1] = Math.round(tmp[plane + i]);
    data[i * 3 + 2] = Math.round(tmp[2 * plane + i]);
  }
  return { data, width, height };
}
