/**
 * Converts decoded 8-bit RGB from a matrix/curve profile (Display P3, Adobe RGB, a camera's or a
 * display's) to sRGB, in place: tone curve to linear light, one 3x3 matrix, sRGB's curve back.
 * It runs on the image already shrunk to max_size, where lcms (sharp's icc_transform) ran on
 * the image at shrink-on-load size and built its transform for every image: on a 12-megapixel
 * Display P3 photo that was 13 to 30 ms of the decode (issue 14). Resizing before the transform
 * instead of after moves a value by 0.55 of a level on average against lcms (at most 10 levels,
 * at sharp edges of saturated colour; measured on couple.jpg converted to P3).
 */
import type { MatrixProfile } from './icc.js';

/** sRGB's primaries in the ICC connection space (D50, Bradford-adapted), columns r, g, b. */
const SRGB_D50 = [
  [0.4360747, 0.3850649, 0.1430804],
  [0.2225045, 0.7168786, 0.0606169],
  [0.0139322, 0.0971045, 0.7141733],
];

/** Linear light in [0, 1] in this many steps: under half an 8-bit level of error at the dark end. */
const STEPS = 16383;
let encodeTable: Uint8Array | undefined;

function encode(): Uint8Array {
  if (!encodeTable) {
    encodeTable = new Uint8Array(STEPS + 1);
    for (let i = 0; i <= STEPS; i++) {
      const v = i / STEPS;
      const s = v <= 0.0031308 ? 12.92 * v : 1.055 * v ** (1 / 2.4) - 0.055;
      encodeTable[i] = Math.round(255 * s);
    }
  }
  return encodeTable;
}

function invert3(m: number[][]): number[][] {
  const [[a, b, c], [d, e, f], [g, h, k]] = m;
  const A = e * k - f * h, B = f * g - d * k, C = d * h - e * g;
  const det = a * A + b * B + c * C;
  return [
    [A / det, (c * h - b * k) / det, (b * f - c * e) / det],
    [B / det, (a * k - c * g) / det, (c * d - a * f) / det],
    [C / det, (b * g - a * h) / det, (a * e - b * d) / det],
  ];
}

/** The 3x3 matrix from the profile's linear RGB to linear sRGB, row-major. */
export function toSrgbMatrix(profile: MatrixProfile): number[] {
  const source = [0, 1, 2].map((i) => [0, 1, 2].map((c) => profile.primaries[c][i]));
  const inverse = invert3(SRGB_D50);
  const m: number[] = [];
  for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) m.push(inverse[i][0] * source[0][j] + inverse[i][1] * source[1][j] + inverse[i][2] * source[2][j]);
  return m;
}

/**
 * What converting from one profile takes, as plain data (it travels to the inference worker with
 * the image: server/worker/thread.ts): the tone curves as tables of the 256 levels, and the
 * matrix to linear sRGB, row-major.
 */
export interface SrgbConversion {
  curves: Float64Array[];
  matrix: number[];
}

export function srgbConversion(profile: MatrixProfile): SrgbConversion {
  return {
    curves: profile.curves.map((f) => Float64Array.from({ length: 256 }, (_, v) => f(v / 255))),
    matrix: toSrgbMatrix(profile),
  };
}

/** Converts packed 8-bit RGB `data` to sRGB in place (colours outside sRGB clip). */
export function applySrgb(data: Uint8Array, conversion: SrgbConversion): void {
  const [lr, lg, lb] = conversion.curves;
  const [m0, m1, m2, m3, m4, m5, m6, m7, m8] = conversion.matrix;
  const out = encode();
  const top = STEPS;
  const n = data.length - (data.length % 3);
  // The clipping and rounding are written out three times: measured 2.4 ms for 640x480 here,
  // against 5 to 8 with them in a helper function.
  for (let p = 0; p < n; p += 3) {
    const r = lr[data[p]], g = lg[data[p + 1]], b = lb[data[p + 2]];
    let v = m0 * r + m1 * g + m2 * b;
    data[p] = out[v <= 0 ? 0 : v >= 1 ? top : (v * top + 0.5) | 0];
    v = m3 * r + m4 * g + m5 * b;
    data[p + 1] = out[v <= 0 ? 0 : v >= 1 ? top : (v * top + 0.5) | 0];
    v = m6 * r + m7 * g + m8 * b;
    data[p + 2] = out[v <= 0 ? 0 : v >= 1 ? top : (v * top + 0.5) | 0];
  }
}
