/**
 * Pixel sampling into model input tensors. Every preprocessing step the families need
 * (stretch, letterbox, crop-and-resize, face alignment) is an affine map from tensor pixels to
 * image pixels, so one bilinear sampler covers them all and no intermediate image is built.
 */
import { nativeSampling, type NativeSampling } from './native-sampling.js';
import type { Affine, Normalisation, RgbImage } from './types.js';

export type { Affine };

/** Crop pixel (u, v) is image pixel (u, v). */
export const IDENTITY: Affine = [1, 0, 0, 0, 1, 0];

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
  /** Axis-aligned maps: average over the source footprint when shrinking; off = plain bilinear. */
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
 * fall outside the source read as black (0), like a zero-padded letterbox. Axis-aligned maps
 * (resize, stretch, letterbox, crop) take the separable path, where `antialias` averages over
 * each tensor pixel's footprint when shrinking: plain bilinear skips most source pixels and
 * aliases (a 1366-wide photo stretched to a 320-wide detector input moved boxes by over 10% of
 * the face width). Other maps (rotations) sample bilinearly. `sampler`: the C loops
 * (native/sampling/), the same floats; null runs the JavaScript ones, as where it is not built.
 */
export function sampleToTensor(src: RgbImage, map: Affine, target: SampleTarget, sampler = nativeSampling() ?? null): void {
  const [a, b, c, d, e, f] = map;
  if (a === 1 && b === 0 && c === 0 && d === 0 && e === 1 && f === 0) return copyPadded(src, target);
  if (b === 0 && d === 0) return resizeSeparable(src, map, target, sampler);
  if (!sampler) return sampleBilinear(src, map, target);
  const { out, width: tw, height: th, layout } = target;
  const { mr, mg, mb, ir, ig, ib, rPlane, gPlane, bPlane } = normalisation(target);
  sampler.sampleAffine(src.data, src.width, src.height, a, b, c, d, e, f, out, tw, th, layout === 'gray',
    rPlane, gPlane, bPlane, mr, mg, mb, ir, ig, ib);
}

/** Any map, bilinearly, in JavaScript: what native/sampling/affine.c does where it is built. */
function sampleBilinear(src: RgbImage, map: Affine, target: SampleTarget): void {
  const [a, b, c, d, e, f] = map;
  const { data, width: sw, height: sh } = src;
  const stride = sw * 3;
  const { out, width: tw, height: th, layout } = target;
  const norm = normalisation(target);
  // The writes inlined per layout (a call through pixelWriter's closure per pixel cost about a
  // third of this loop: issue 14, bench/worker-cpu.ts); the arithmetic is pixelWriter's.
  const gray = layout === 'gray';
  const { mr, mg, mb, ir, ig, ib, rPlane, gPlane, bPlane } = norm;
  for (let v = 0; v < th; v++) {
    for (let u = 0; u < tw; u++) {
      const x = a * u + b * v + c;
      const y = d * u + e * v + f;
      const x0 = Math.floor(x);
      const y0 = Math.floor(y);
      let r: number, g: number, bl: number;
      if (x0 >= 0 && y0 >= 0 && x0 + 1 < sw && y0 + 1 < sh) {
        // All four neighbours inside (every pixel of a face away from the border): addBilinear
        // inlined, the same arithmetic (issue 14: the recognizer's aligned sampling).
        const fx = x - x0;
        const fy = y - y0;
        const p = y0 * stride + x0 * 3;
        const q = p + stride;
        const k00 = (1 - fy) * (1 - fx), k01 = (1 - fy) * fx, k10 = fy * (1 - fx), k11 = fy * fx;
        r = k00 * data[p] + k01 * data[p + 3] + k10 * data[q] + k11 * data[q + 3];
        g = k00 * data[p + 1] + k01 * data[p + 4] + k10 * data[q + 1] + k11 * data[q + 4];
        bl = k00 * data[p + 2] + k01 * data[p + 5] + k10 * data[q + 2] + k11 * data[q + 5];
      } else {
        const acc = edgeAcc;
        acc[0] = 0; acc[1] = 0; acc[2] = 0;
        addBilinear(src, x, y, 1, acc);
        r = acc[0]; g = acc[1]; bl = acc[2];
      }
      const i = v * tw + u;
      if (gray) {
        out[rPlane + i] = (0.299 * r + 0.587 * g + 0.114 * bl - mr) * ir;
      } else {
        out[rPlane + i] = (r - mr) * ir;
        out[gPlane + i] = (g - mg) * ig;
        out[bPlane + i] = (bl - mb) * ib;
      }
    }
  }
}

/** Border pixels' accumulator, kept per thread. */
const edgeAcc = new Float64Array(3);

/** The identity map: pixels copied (and normalised) as they are, black beyond the source. */
function copyPadded(src: RgbImage, target: SampleTarget): void {
  const write = pixelWriter(target);
  const { data } = src;
  for (let v = 0; v < target.height; v++) {
    for (let u = 0; u < target.width; u++) {
      if (u < src.width && v < src.height) {
        const p = (v * src.width + u) * 3;
        write(v * target.width + u, data[p], data[p + 1], data[p + 2]);
      } else {
        write(v * target.width + u, 0, 0, 0);
      }
    }
  }
}

/**
 * A target's normalisation as numbers: means, inverse deviations, and where each channel's
 * plane starts in `out` (for 'gray', rPlane is the one plane).
 */
function normalisation(target: SampleTarget) {
  const { offset, width, height, layout, mean, std } = target;
  const plane = width * height;
  const perChannel = (v: number | readonly number[]) => (typeof v === 'number' ? [v, v, v] : v);
  const [mr, mg, mb] = perChannel(mean);
  const [ir, ig, ib] = perChannel(std).map((x) => 1 / x);
  // Channel planes: index 0 receives R for 'rgb' and B for 'bgr'.
  const rPlane = layout === 'gray' ? offset : offset + (layout === 'bgr' ? 2 * plane : 0);
  const gPlane = offset + plane;
  const bPlane = offset + (layout === 'bgr' ? 0 : 2 * plane);
  return { mr, mg, mb, ir, ig, ib, rPlane, gPlane, bPlane };
}

/** Writes pixel i of the plane, normalised, into the target's channel planes. */
function pixelWriter(target: SampleTarget): (i: number, r: number, g: number, b: number) => void {
  const { out, layout } = target;
  const { mr, mg, mb, ir, ig, ib, rPlane, gPlane, bPlane } = normalisation(target);
  if (layout === 'gray') return (i, r, g, b) => { out[rPlane + i] = (0.299 * r + 0.587 * g + 0.114 * b - mr) * ir; };
  return (i, r, g, b) => {
    out[rPlane + i] = (r - mr) * ir;
    out[gPlane + i] = (g - mg) * ig;
    out[bPlane + i] = (b - mb) * ib;
  };
}

/**
 * Tent-filter weights along one axis: destination i reads source positions around a*i + c,
 * within `radius` (1 = bilinear; the shrink factor = area-like averaging). Weights are
 * normalised over the whole window, so positions outside the source count as black.
 */
type Taps = { first: Int32Array; count: Int32Array; weights: Float32Array; span: number };

// Inference workers resize to the same few geometries again and again: keep the last taps and
// one scratch buffer per thread instead of reallocating them for every image.
const recentTaps = new Map<string, Taps>();
let scratch = new Float32Array(0);
let grayRows = new Float64Array(0);

function cachedTaps(dst: number, srcSize: number, a: number, c: number, radius: number): Taps {
  const key = `${dst},${srcSize},${a},${c},${radius}`;
  let taps = recentTaps.get(key);
  if (!taps) {
    taps = axisTaps(dst, srcSize, a, c, radius);
    if (recentTaps.size >= 16) recentTaps.delete(recentTaps.keys().next().value!);
    recentTaps.set(key, taps);
  }
  return taps;
}

function axisTaps(dst: number, srcSize: number, a: number, c: number, radius: number): Taps {
  const span = Math.ceil(radius) * 2 + 1;
  const first = new Int32Array(dst);
  const count = new Int32Array(dst);
  const weights = new Float32Array(dst * span);
  for (let i = 0; i < dst; i++) {
    const centre = a * i + c;
    const lo = Math.ceil(centre - radius);
    const hi = Math.floor(centre + radius);
    let total = 0;
    for (let j = lo; j <= hi; j++) total += Math.max(0, 1 - Math.abs(j - centre) / radius);
    // Only the taps with weight inside the source (an exact pixel centre needs one, not three).
    let from = Math.max(lo, 0);
    let to = Math.min(hi, srcSize - 1);
    while (from <= to && Math.abs(from - centre) >= radius) from++;
    while (to >= from && Math.abs(to - centre) >= radius) to--;
    first[i] = from;
    count[i] = Math.max(0, to - from + 1);
    for (let j = from; j <= to; j++) {
      weights[i * span + (j - from)] = total > 0 ? (1 - Math.abs(j - centre) / radius) / total : 0;
    }
  }
  return { first, count, weights, span };
}

/**
 * The axis-aligned case (every resize, stretch and letterbox): two separable passes instead of
 * per-pixel sampling, so antialiased shrinking costs a few multiply-adds per source pixel.
 */
function resizeSeparable(src: RgbImage, map: Affine, target: SampleTarget, sampler: NativeSampling | null): void {
  const { width: dw, height: dh } = target;
  const [a, , c, , e, f] = map;
  const radius = (scale: number) => (target.antialias ? Math.max(1, Math.abs(scale)) : 1);
  const xs = cachedTaps(dw, src.width, a, c, radius(a));
  const ys = cachedTaps(dh, src.height, e, f, radius(e));
  if (sampler && target.layout === 'gray') {
    // The landmark model's crop (native/sampling/shrink-gray.c): the loops below, in C.
    const { out, offset, mean, std } = target;
    sampler.shrinkGray(src.data, src.width, src.height, xs.first, xs.count, xs.weights, xs.span,
      ys.first, ys.count, ys.weights, ys.span, out, offset, typeof mean === 'number' ? mean : mean[0], 1 / (typeof std === 'number' ? std : std[0]));
    return;
  }
  // Horizontal pass over the source rows the vertical pass reads.
  let rowLo = src.height;
  let rowHi = -1;
  for (let v = 0; v < dh; v++) {
    if (ys.count[v] === 0) continue;
    rowLo = Math.min(rowLo, ys.first[v]);
    rowHi = Math.max(rowHi, ys.first[v] + ys.count[v] - 1);
  }
  const rows = Math.max(0, rowHi - rowLo + 1);
  // A gray target is filtered as one channel: gray is linear in R, G, B, so converting each
  // source pixel first gives the same values for a third of the multiply-adds after it.
  const channels = target.layout === 'gray' ? 1 : 3;
  if (scratch.length < rows * dw * channels) scratch = new Float32Array(rows * dw * channels);
  const tmp = scratch;
  const { data } = src;
  // The loops below are the worker's hottest JavaScript (issue 14). Each sum is a chain of
  // dependent additions, so they work on two or four independent sums at once (rows that share
  // their taps, or columns that share a row's): every sum still adds the same terms in the
  // same order, so the values are the same as one sum at a time, bit for bit.
  const xFirst = xs.first, xCount = xs.count, xWeights = xs.weights, xSpan = xs.span;
  const width3 = src.width * 3;
  if (channels === 1) {
    // Each source pixel's gray is computed once (a shrink's neighbouring taps overlap, so
    // inline it was computed about twice), in float64 as inline: the same sums.
    let colLo = src.width;
    let colHi = -1;
    for (let u = 0; u < dw; u++) {
      if (xCount[u] === 0) continue;
      colLo = Math.min(colLo, xFirst[u]);
      colHi = Math.max(colHi, xFirst[u] + xCount[u] - 1);
    }
    const cols = Math.max(0, colHi - colLo + 1);
    if (grayRows.length < 4 * cols) grayRows = new Float64Array(4 * cols);
    const line = grayRows;
    for (let r = 0; r < rows; r += 4) {
      const lines = Math.min(4, rows - r);
      for (let l = 0; l < 4; l++) {
        // Rows past the last are copies of it, computed and dropped.
        let p = ((rowLo + r + Math.min(l, lines - 1)) * src.width + colLo) * 3;
        for (let x = l * cols, end = x + cols; x < end; x++, p += 3) line[x] = 0.299 * data[p] + 0.587 * data[p + 1] + 0.114 * data[p + 2];
      }
      for (let u = 0; u < dw; u++) {
        let acc0 = 0, acc1 = 0, acc2 = 0, acc3 = 0;
        const w0 = u * xSpan;
        const n = xCount[u];
        const from = xFirst[u] - colLo;
        for (let k = 0, x = from; k < n; k++, x++) {
          const w = xWeights[w0 + k];
          acc0 += w * line[x]; acc1 += w * line[cols + x]; acc2 += w * line[2 * cols + x]; acc3 += w * line[3 * cols + x];
        }
        const t = r * dw + u;
        tmp[t] = acc0;
        if (lines > 1) tmp[t + dw] = acc1;
        if (lines > 2) tmp[t + 2 * dw] = acc2;
        if (lines > 3) tmp[t + 3 * dw] = acc3;
      }
    }
  } else {
    for (let r = 0; r < rows; r += 4) {
      const srcRow = (rowLo + r) * width3;
      // Rows past the last repeat it (computed and dropped).
      const d1 = r + 1 < rows ? width3 : 0;
      const d2 = r + 2 < rows ? 2 * width3 : d1;
      const d3 = r + 3 < rows ? 3 * width3 : d2;
      const lines = Math.min(4, rows - r);
      for (let u = 0; u < dw; u++) {
        let a0 = 0, a1 = 0, a2 = 0, b0 = 0, b1 = 0, b2 = 0, c0 = 0, c1 = 0, c2 = 0, e0 = 0, e1 = 0, e2 = 0;
        const w0 = u * xSpan;
        const n = xCount[u];
        let p = srcRow + xFirst[u] * 3;
        for (let k = 0; k < n; k++, p += 3) {
          const w = xWeights[w0 + k];
          a0 += w * data[p]; a1 += w * data[p + 1]; a2 += w * data[p + 2];
          const q = p + d1;
          b0 += w * data[q]; b1 += w * data[q + 1]; b2 += w * data[q + 2];
          const q2 = p + d2;
          c0 += w * data[q2]; c1 += w * data[q2 + 1]; c2 += w * data[q2 + 2];
          const q3 = p + d3;
          e0 += w * data[q3]; e1 += w * data[q3 + 1]; e2 += w * data[q3 + 2];
        }
        const t = (r * dw + u) * 3;
        const rowStep = dw * 3;
        tmp[t] = a0; tmp[t + 1] = a1; tmp[t + 2] = a2;
        if (lines > 1) { tmp[t + rowStep] = b0; tmp[t + rowStep + 1] = b1; tmp[t + rowStep + 2] = b2; }
        if (lines > 2) { tmp[t + 2 * rowStep] = c0; tmp[t + 2 * rowStep + 1] = c1; tmp[t + 2 * rowStep + 2] = c2; }
        if (lines > 3) { tmp[t + 3 * rowStep] = e0; tmp[t + 3 * rowStep + 1] = e1; tmp[t + 3 * rowStep + 2] = e2; }
      }
    }
  }
  const yFirst = ys.first, yCount = ys.count, yWeights = ys.weights, ySpan = ys.span;
  if (channels === 1) {
    const { out, offset, mean, std } = target;
    const m = typeof mean === 'number' ? mean : mean[0];
    const inv = 1 / (typeof std === 'number' ? std : std[0]);
    for (let v = 0; v < dh; v++) {
      const w0 = v * ySpan;
      const n = yCount[v];
      const base = (yFirst[v] - rowLo) * dw;
      const o = offset + v * dw;
      let u = 0;
      for (; u + 4 <= dw; u += 4) {
        let acc0 = 0, acc1 = 0, acc2 = 0, acc3 = 0;
        for (let k = 0, t = base + u; k < n; k++, t += dw) {
          const w = yWeights[w0 + k];
          acc0 += w * tmp[t]; acc1 += w * tmp[t + 1]; acc2 += w * tmp[t + 2]; acc3 += w * tmp[t + 3];
        }
        out[o + u] = (acc0 - m) * inv;
        out[o + u + 1] = (acc1 - m) * inv;
        out[o + u + 2] = (acc2 - m) * inv;
        out[o + u + 3] = (acc3 - m) * inv;
      }
      for (; u < dw; u++) {
        let acc = 0;
        for (let k = 0, t = base + u; k < n; k++, t += dw) acc += yWeights[w0 + k] * tmp[t];
        out[o + u] = (acc - m) * inv;
      }
    }
    return;
  }
  const stride = dw * 3;
  // Two columns at a time (their sums are independent), the odd last one alone.
  const write = pixelWriter(target);
  for (let v = 0; v < dh; v++) {
    const w0 = v * ySpan;
    const n = yCount[v];
    const base = (yFirst[v] - rowLo) * stride;
    for (let u = 0; u < dw; u += 2) {
      const pair = u + 1 < dw ? 3 : 0;
      let r = 0, g = 0, bl = 0, r2 = 0, g2 = 0, bl2 = 0;
      for (let k = 0, t = base + u * 3; k < n; k++, t += stride) {
        const w = yWeights[w0 + k];
        const t2 = t + pair;
        r += w * tmp[t]; g += w * tmp[t + 1]; bl += w * tmp[t + 2];
        r2 += w * tmp[t2]; g2 += w * tmp[t2 + 1]; bl2 += w * tmp[t2 + 2];
      }
      const i = v * dw + u;
      write(i, r, g, bl);
      if (pair) write(i + 1, r2, g2, bl2);
    }
  }
}

/**
 * Columns x0..x1-1 and rows y0..y1-1 of `src` at half the size, each pixel the rounded mean of a
 * 2x2 block (an odd last column or row is left out): output pixel p covers source pixels x0 + 2p
 * and x0 + 2p + 1, so its centre is source pixel x0 + 2p + 0.5. In C where native/sampling/ is
 * built (halve.c; null: this loop).
 */
export function halveRgb(src: RgbImage, x0: number, y0: number, x1: number, y1: number, sampler = nativeSampling() ?? null): RgbImage {
  const width = Math.max(0, (x1 - x0) >> 1);
  const height = Math.max(0, (y1 - y0) >> 1);
  if (sampler) return { data: sampler.halveRgb(src.data, src.width, src.height, x0, y0, x1, y1), width, height };
  const data = new Uint8Array(width * height * 3);
  const { data: s } = src;
  const stride = src.width * 3;
  for (let v = 0, o = 0; v < height; v++) {
    let p = (y0 + 2 * v) * stride + x0 * 3;
    for (let u = 0; u < width; u++, p += 6, o += 3) {
      const q = p + stride;
      data[o] = (s[p] + s[p + 3] + s[q] + s[q + 3] + 2) >> 2;
      data[o + 1] = (s[p + 1] + s[p + 4] + s[q + 1] + s[q + 4] + 2) >> 2;
      data[o + 2] = (s[p + 2] + s[p + 5] + s[q + 2] + s[q + 5] + 2) >> 2;
    }
  }
  return { data, width, height };
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
