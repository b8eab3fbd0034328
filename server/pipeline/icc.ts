/**
 * Whether an embedded ICC profile describes sRGB, judged by what it does to colours (primaries
 * and tone curves), not by its name: then decoding can skip libvips' lcms transform of every
 * pixel through the profile, which measured about half of sharp's time on phone-size JPEGs
 * (bench/throughput-history.md, "Round two"); the shared photos' three sRGB profiles gave
 * identical pixels either way. Any other profile (Display P3, Adobe RGB, CMYK, grey,
 * LUT-based) keeps the transform.
 */

/** sRGB's primaries in the ICC connection space (D50-adapted, as in IEC 61966-2-1's profile). */
const SRGB_PRIMARIES: Record<string, [number, number, number]> = {
  rXYZ: [0.4361, 0.2225, 0.0139],
  gXYZ: [0.3851, 0.7169, 0.0971],
  bXYZ: [0.1431, 0.0606, 0.7141],
};
/**
 * Largest difference allowed per primary component: sRGB profiles in the wild differ in the
 * fourth decimal (chromatic adaptation rounding); Display P3's red differs by 0.08 and Adobe
 * RGB's green by 0.07.
 */
const PRIMARY_TOLERANCE = 0.003;
/** Largest difference allowed on a tone curve, in [0, 1]: half an 8-bit level. */
const CURVE_TOLERANCE = 0.5 / 255;
const CURVE_POINTS = [0.01, 0.04, 0.1, 0.25, 0.5, 0.75, 0.9, 1];

/** The sRGB transfer function (encoded value -> linear light). */
function srgbToLinear(v: number): number {
  return v <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
}

interface Tag {
  offset: number;
  size: number;
}

function tagTable(icc: Buffer): Map<string, Tag> | undefined {
  if (icc.length < 132) return undefined;
  const count = icc.readUInt32BE(128);
  if (count > 100 || 132 + 12 * count > icc.length) return undefined;
  const tags = new Map<string, Tag>();
  for (let i = 0; i < count; i++) {
    const at = 132 + 12 * i;
    const offset = icc.readUInt32BE(at + 4);
    const size = icc.readUInt32BE(at + 8);
    if (offset + size > icc.length || size < 8) return undefined;
    tags.set(icc.toString('latin1', at, at + 4), { offset, size });
  }
  return tags;
}

const s15Fixed16 = (icc: Buffer, at: number) => icc.readInt32BE(at) / 65536;

function xyz(icc: Buffer, tag: Tag | undefined): [number, number, number] | undefined {
  if (!tag || tag.size < 20 || icc.toString('latin1', tag.offset, tag.offset + 4) !== 'XYZ ') return undefined;
  return [s15Fixed16(icc, tag.offset + 8), s15Fixed16(icc, tag.offset + 12), s15Fixed16(icc, tag.offset + 16)];
}

/** A tone curve ('curv' or 'para') as a function on [0, 1]; undefined for anything else. */
function curve(icc: Buffer, tag: Tag | undefined): ((x: number) => number) | undefined {
  if (!tag) return undefined;
  const at = tag.offset;
  const type = icc.toString('latin1', at, at + 4);
  if (type === 'curv' && tag.size >= 12) {
    const n = icc.readUInt32BE(at + 8);
    if (tag.size < 12 + 2 * n) return undefined;
    if (n === 0) return (x) => x;
    if (n === 1) {
      const gamma = icc.readUInt16BE(at + 12) / 256;
      return (x) => x ** gamma;
    }
    return (x) => {
      const pos = x * (n - 1);
      const i = Math.min(n - 2, Math.floor(pos));
      const a = icc.readUInt16BE(at + 12 + 2 * i) / 65535;
      const b = icc.readUInt16BE(at + 14 + 2 * i) / 65535;
      return a + (b - a) * (pos - i);
    };
  }
  if (type === 'para' && tag.size >= 16) {
    const fn = icc.readUInt16BE(at + 8);
    const counts = [1, 3, 4, 5, 7];
    if (fn > 4 || tag.size < 12 + 4 * counts[fn]) return undefined;
    const p = Array.from({ length: counts[fn] }, (_, k) => s15Fixed16(icc, at + 12 + 4 * k));
    const [g, a = 1, b = 0, c = 0, d = 0, e = 0, f = 0] = p;
    // ICC.1:2010 table 68, the five parametric curve types.
    switch (fn) {
      case 0: return (x) => x ** g;
      case 1: return (x) => (x >= -b / a ? (a * x + b) ** g : 0);
      case 2: return (x) => (x >= -b / a ? (a * x + b) ** g + c : c);
      case 3: return (x) => (x >= d ? (a * x + b) ** g : c * x);
      default: return (x) => (x >= d ? (a * x + b) ** g + e : c * x + f);
    }
  }
  return undefined;
}

/**
 * An RGB profile that is a 3x3 matrix and three tone curves (sRGB, Display P3, Adobe RGB, most
 * camera and display profiles): its primaries (columns rXYZ, gXYZ, bXYZ) and curves. Undefined
 * for anything else (CMYK, grey, lookup-table profiles, a damaged file).
 */
export interface MatrixProfile {
  primaries: [number, number, number][];
  curves: ((x: number) => number)[];
}

export function matrixProfile(icc: Buffer): MatrixProfile | undefined {
  if (icc.length < 132 || icc.toString('latin1', 36, 40) !== 'acsp') return undefined;
  if (icc.toString('latin1', 16, 20) !== 'RGB ' || icc.toString('latin1', 20, 24) !== 'XYZ ') return undefined;
  const tags = tagTable(icc);
  if (!tags) return undefined;
  // lcms prefers lookup tables where a profile has them; those are left to lcms.
  if (['A2B0', 'A2B1', 'A2B2', 'D2B0'].some((t) => tags.has(t))) return undefined;
  const primaries = ['rXYZ', 'gXYZ', 'bXYZ'].map((name) => xyz(icc, tags.get(name)));
  const curves = ['rTRC', 'gTRC', 'bTRC'].map((name) => curve(icc, tags.get(name)));
  if (primaries.some((p) => !p) || curves.some((c) => !c)) return undefined;
  return { primaries: primaries as [number, number, number][], curves: curves as ((x: number) => number)[] };
}

/** True when `icc` is an RGB matrix/curve profile with sRGB's primaries and tone curve. */
export function isSrgbProfile(icc: Buffer): boolean {
  const profile = matrixProfile(icc);
  if (!profile) return false;
  for (const [k, want] of Object.values(SRGB_PRIMARIES).entries()) {
    if (profile.primaries[k].some((v, i) => Math.abs(v - want[i]) > PRIMARY_TOLERANCE)) return false;
  }
  return profile.curves.every((f) => CURVE_POINTS.every((x) => Math.abs(f(x) - srgbToLinear(x)) <= CURVE_TOLERANCE));
}
