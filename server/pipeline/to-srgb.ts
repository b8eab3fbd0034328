/**
 * Converts decoded 8-bit RGB from a matrix/curve profile (Display P3, Adobe RGB, a camera's or a
 * display's) to sRGB, in place: tone curve to linear light, one 3x3 matrix, sRGB's curve back.
 * It runs on the image already shrunk to max_size, where lcms (sharp's icc_transform) ran on
 * the image at shrink-on-load size and built its transform for every image: on a 12-megapixel
 * Display P3 photo that was 13 to 30 ms of the decode (issue 14). Resizing before the transform
 * instead of after moves a value by 0.55 of a level on average against lcms (at most 10 levels,
 * at sharp edges of saturated colour; measured on couple.jpg converted to P3).
 */
import { addonStatus, loadAddon } from '../../native/addons.js';
import type { MatrixProfile } from './icc.js';

/** sRGB's primaries in the ICC connection space (D50, Bradford-adapted), columns r, g, b. */
const SRGB_D50 = [
  [0.4360747, 0.3850649, 0.1430804],
  [0.2225045, 0.7168786, 0.0606169],
  [0.0139322, 0.0971045, 0.7141733],
];

/** Linear light in [0, 1] in this many steps: under half an 8-bit level of error at the dark end. */
const STEPS = 16383;
/**
 * How far the encoding table reaches below 0 and above 1 (in units of STEPS), so that a colour
 * outside sRGB clips by the lookup itself, without a branch. Display P3's rows reach -0.23 and
 * 1.23, ProPhoto's -1.03 and 2.03; a profile whose rows reach further is left to lcms.
 */
const BELOW = 2;
const ABOVE = 2;
/**
 * sRGB's 8-bit level of each linear value, from BELOW under 0 to ABOVE over 1 (clipped). A
 * module constant, built by a function when the module loads (about 1 ms): applySrgb takes 1.69
 * ms for 640x480 with it, and 1.98 where the table was built on first use or filled in the
 * module's own code (V8 then does not treat it as a constant).
 */
const ENCODE = encodeTable();

function encodeTable(): Uint8Array {
  const table = new Uint8Array((BELOW + 1 + ABOVE) * STEPS + 1).fill(255, (BELOW + 1) * STEPS);
  for (let i = 0; i <= STEPS; i++) {
    const v = i / STEPS;
    table[BELOW * STEPS + i] = Math.round(255 * (v <= 0.0031308 ? 12.92 * v : 1.055 * v ** (1 / 2.4) - 0.055));
  }
  return table;
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
 * the image: server/worker/thread.ts): for output channel o, input channel c and level v, at
 * (o * 3 + c) * 256 + v, the matrix entry times the tone curve at v, in STEPS and rounded, with
 * BELOW * STEPS added to the red input's so that a sum is an index into the encoding table.
 * A pixel is then nine lookups and six additions: 1.9 to 2.4 ms for 640x480 became 1.7, and 0.64
 * in C (issue 14, round eight), one value in 150 a level apart from the same arithmetic in doubles.
 */
export interface SrgbConversion {
  products: Int32Array;
}

/** The conversion from `profile`, or undefined where its colours reach past the encoding table. */
export function srgbConversion(profile: MatrixProfile): SrgbConversion | undefined {
  const matrix = toSrgbMatrix(profile);
  const linear = profile.curves.map((curve) => Float64Array.from({ length: 256 }, (_, v) => curve(v / 255) * STEPS));
  const products = new Int32Array(9 * 256);
  for (let o = 0; o < 3; o++) {
    let low = 0, high = 0;
    for (let c = 0; c < 3; c++) {
      const at = (o * 3 + c) * 256, m = matrix[o * 3 + c];
      let min = Infinity, max = -Infinity;
      for (let v = 0; v < 256; v++) {
        const p = Math.round(m * linear[c][v]);
        // A broken tone curve (NaN, infinite) or a near-singular matrix (entries in the
        // millions, which only cancel out) is left to lcms, like a table out of reach; so every
        // entry fits an Int32Array, and the C loop's own check agrees with this one.
        if (!(Math.abs(p) <= 2 ** 24)) return undefined;
        products[at + v] = p;
        min = Math.min(min, p);
        max = Math.max(max, p);
      }
      low += min;
      high += max;
    }
    if (low < -BELOW * STEPS || high > (1 + ABOVE) * STEPS) return undefined;
    for (let v = 0; v < 256; v++) products[o * 3 * 256 + v] += BELOW * STEPS;
  }
  return { products };
}

/** The same loop in C (native/colour/to-srgb.c): 0.64 against 1.69 ms for 640x480. */
export interface NativeColour {
  toSrgb(data: Uint8Array, products: Int32Array, encode: Uint8Array): void;
}

/** The C loop this thread uses, or undefined: the loop below. */
export function nativeColour(): NativeColour | undefined {
  return loadAddon<NativeColour>('facerest_colour').addon;
}

/** Who converts colours, and why not C when not (the startup log). */
export function colourConversionStatus(): string {
  return addonStatus('facerest_colour', 'javascript');
}

/** Converts packed 8-bit RGB `data` to sRGB in place (colours outside sRGB clip). */
export function applySrgb(data: Uint8Array, conversion: SrgbConversion, native = nativeColour()): void {
  const t = conversion.products;
  const out = ENCODE;
  if (native) return native.toSrgb(data, t, out);
  const n = data.length - (data.length % 3);
  for (let p = 0; p < n; p += 3) {
    const r = data[p], g = data[p + 1] + 256, b = data[p + 2] + 512;
    data[p] = out[t[r] + t[g] + t[b]];
    data[p + 1] = out[t[r + 768] + t[g + 768] + t[b + 768]];
    data[p + 2] = out[t[r + 1536] + t[g + 1536] + t[b + 1536]];
  }
}
