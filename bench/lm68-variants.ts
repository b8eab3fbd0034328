/**
 * Research copy of models/families/landmarks68.ts (issue 13, part 1): the raw 68 points of the
 * default pack's fr_landmark.onnx for any crop, with the knobs the study varies (crop geometry,
 * antialiasing, mirror averaging, gray weights, half-pixel convention), the boxes rebuilt from a
 * first pass's points, and the ways of turning 68 points into the five ArcFace points.
 * Not production code: the lead turns the winner into models/families/landmarks68.ts.
 */
import ort from 'onnxruntime-node';
import { resizeAffine, sampleToTensor } from '../models/inference/sampling.js';
import type { BoxArray, RgbImage } from '../models/inference/types.js';
import type { ModelSession } from '../models/inference/onnx/session.js';

/** A crop of the image: left/top edge and size in image pixels (x and y scaled separately). */
export interface Crop {
  left: number;
  top: number;
  width: number;
  height: number;
}

export interface LandmarkOptions {
  /** Average over the source footprint when shrinking (the production code: true). */
  antialias: boolean;
  /** Also run the mirrored crop, un-mirror its points and average the two. */
  mirror: boolean;
  /** 'bt601': 0.299 R + 0.587 G + 0.114 B; 'swapped': the weights on B and R exchanged. */
  gray: 'bt601' | 'swapped';
  /** Output fraction f maps to left + f*width + offset (0 = production; -0.5 = pixel-edge convention). */
  halfPixel: number;
}

export const PRODUCTION: LandmarkOptions = { antialias: true, mirror: false, gray: 'bt601', halfPixel: 0 };

/** iBUG 300-W left/right mirror permutation of the 68 points. */
export const MIRROR68: number[] = (() => {
  const m = Array.from({ length: 68 }, (_, i) => i);
  const pair = (a: number, b: number) => { m[a] = b; m[b] = a; };
  for (let i = 0; i <= 7; i++) pair(i, 16 - i); // jaw
  for (let i = 0; i < 5; i++) pair(17 + i, 26 - i); // brows
  pair(31, 35); pair(32, 34); // nostrils
  pair(36, 45); pair(37, 44); pair(38, 43); pair(39, 42); pair(40, 47); pair(41, 46); // eyes
  pair(48, 54); pair(49, 53); pair(50, 52); pair(55, 59); pair(56, 58); // outer lip
  pair(60, 64); pair(61, 63); pair(65, 67); // inner lip
  return m;
})();

export class Lm68 {
  private readonly input = new Float32Array(64 * 64);
  private readonly flipped = new Float32Array(64 * 64);
  runs = 0;

  constructor(private readonly session: ModelSession) {}

  private async run(data: Float32Array): Promise<Float32Array> {
    this.runs++;
    const out = await this.session.run({
      [this.session.inputNames[0]]: new ort.Tensor('float32', data, [1, 1, 64, 64]),
    });
    return Float32Array.from(out[this.session.outputNames[0]].data as Float32Array);
  }

  /** The 68 points (x0,y0,...) in image pixels for a crop. */
  async points(image: RgbImage, crop: Crop, o: LandmarkOptions = PRODUCTION): Promise<Float32Array> {
    const n = 64;
    const src = o.gray === 'bt601' ? image : swapRB(image);
    sampleToTensor(src, resizeAffine(crop.width / n, crop.height / n, crop.left, crop.top), {
      out: this.input, offset: 0, width: n, height: n, layout: 'gray', mean: 0, std: 256, antialias: o.antialias,
    });
    let f = await this.run(this.input);
    if (o.mirror) {
      for (let v = 0; v < n; v++) for (let u = 0; u < n; u++) this.flipped[v * n + u] = this.input[v * n + (n - 1 - u)];
      const g = await this.run(this.flipped);
      const avg = new Float32Array(136);
      for (let i = 0; i < 68; i++) {
        const j = MIRROR68[i];
        avg[2 * i] = (f[2 * i] + (1 - g[2 * j])) / 2;
        avg[2 * i + 1] = (f[2 * i + 1] + g[2 * j + 1]) / 2;
      }
      f = avg;
    }
    const pts = new Float32Array(136);
    for (let i = 0; i < 68; i++) {
      pts[2 * i] = crop.left + f[2 * i] * crop.width + o.halfPixel;
      pts[2 * i + 1] = crop.top + f[2 * i + 1] * crop.height + o.halfPixel;
    }
    return pts;
  }
}

const swapCache = new WeakMap<RgbImage, RgbImage>();
function swapRB(image: RgbImage): RgbImage {
  let s = swapCache.get(image);
  if (!s) {
    const d = Uint8Array.from(image.data);
    for (let i = 0; i < d.length; i += 3) { const t = d[i]; d[i] = d[i + 2]; d[i + 2] = t; }
    s = { data: d, width: image.width, height: image.height };
    swapCache.set(image, s);
  }
  return s;
}

/** The package's crop: the detector box itself (x scaled by its width, y by its height). */
export function boxCrop(box: BoxArray): Crop {
  return { left: box[0], top: box[1], width: box[2] - box[0], height: box[3] - box[1] };
}

/**
 * A square crop centred on the box (shifted by dx, dy times the side), its side `scale` times
 * a size measure of the box: 'mean' (w+h)/2 (production, scale 1), 'max', 'height', 'width'.
 */
export function squareCrop(box: BoxArray, scale = 1, measure: 'mean' | 'max' | 'height' | 'width' = 'mean', dx = 0, dy = 0): Crop {
  const [x1, y1, x2, y2] = box;
  const w = x2 - x1;
  const h = y2 - y1;
  const size = measure === 'mean' ? (w + h) / 2 : measure === 'max' ? Math.max(w, h) : measure === 'height' ? h : w;
  const side = Math.max(1, scale * size);
  return { left: (x1 + x2) / 2 - side / 2 + dx * side, top: (y1 + y2) / 2 - side / 2 + dy * side, width: side, height: side };
}

/** Where the 68 points fall inside a crop: their bounding box in fractions of the crop. */
export function layoutIn(points: Float32Array, crop: Crop): { minX: number; maxX: number; minY: number; maxY: number } {
  let minX = Infinity, maxX = -Infinity, minY = Infinity, maxY = -Infinity;
  for (let i = 0; i < 68; i++) {
    const x = (points[2 * i] - crop.left) / crop.width;
    const y = (points[2 * i + 1] - crop.top) / crop.height;
    minX = Math.min(minX, x); maxX = Math.max(maxX, x); minY = Math.min(minY, y); maxY = Math.max(maxY, y);
  }
  return { minX, maxX, minY, maxY };
}

/**
 * The crop rebuilt from a pass's points: their bounding box, made square with side = its larger
 * side / span, centred so the points' box sits at (cx, cy) of the crop (fractions). `span`,
 * cx, cy come from the model's own layout (layoutIn over the data).
 */
export function cropFromPoints(points: Float32Array, span: number, cx = 0.5, cy = 0.5): Crop {
  let minX = Infinity, maxX = -Infinity, minY = Infinity, maxY = -Infinity;
  for (let i = 0; i < 68; i++) {
    minX = Math.min(minX, points[2 * i]); maxX = Math.max(maxX, points[2 * i]);
    minY = Math.min(minY, points[2 * i + 1]); maxY = Math.max(maxY, points[2 * i + 1]);
  }
  const side = Math.max(maxX - minX, maxY - minY) / span;
  return { left: (minX + maxX) / 2 - cx * side, top: (minY + maxY) / 2 - cy * side, width: side, height: side };
}

/** Five ArcFace points from 68: eyes, nose tip, mouth corners as index groups averaged. */
export type FiveRule = number[][];
export const FIVE_RULES: Record<string, FiveRule> = {
  // production: eye = all 6 contour points, nose 30, mouth corner = outer and inner corner
  prod: [[36, 37, 38, 39, 40, 41], [42, 43, 44, 45, 46, 47], [30], [48, 60], [54, 64]],
  // the npm package's convert68pts5pts: eye = the 4 lid points, no corners
  pkg: [[37, 38, 40, 41], [43, 44, 46, 47], [30], [48, 60], [54, 64]],
  // eye = midpoint of the two corners
  corners: [[36, 39], [42, 45], [30], [48, 60], [54, 64]],
  // mouth = outer corners only
  outerMouth: [[36, 37, 38, 39, 40, 41], [42, 43, 44, 45, 46, 47], [30], [48], [54]],
  // mouth = inner corners only
  innerMouth: [[36, 37, 38, 39, 40, 41], [42, 43, 44, 45, 46, 47], [30], [60], [64]],
  // nose = 33 (subnasale) / midpoint 30-33 / 4 lower nose points
  nose33: [[36, 37, 38, 39, 40, 41], [42, 43, 44, 45, 46, 47], [33], [48, 60], [54, 64]],
  nose3033: [[36, 37, 38, 39, 40, 41], [42, 43, 44, 45, 46, 47], [30, 33], [48, 60], [54, 64]],
  noseLow: [[36, 37, 38, 39, 40, 41], [42, 43, 44, 45, 46, 47], [30, 32, 33, 34], [48, 60], [54, 64]],
  pkgOuter: [[37, 38, 40, 41], [43, 44, 46, 47], [30], [48], [54]],
};

export function fivePoints(points: Float32Array, rule: FiveRule): Float32Array {
  const five = new Float32Array(10);
  rule.forEach((indices, k) => {
    let sx = 0;
    let sy = 0;
    for (const i of indices) { sx += points[2 * i]; sy += points[2 * i + 1]; }
    five[2 * k] = sx / indices.length;
    five[2 * k + 1] = sy / indices.length;
  });
  return five;
}
