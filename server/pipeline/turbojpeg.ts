/**
 * The plain-JPEG decoder: native/turbojpeg/decode.c (libjpeg-turbo's TurboJPEG API, built by
 * `npm run build`), for plain JPEGs (decode.ts's plan says which), shrunk or not. Where
 * the addon was not built or libturbojpeg.so.0 is missing, or FACEREST_JPEG_DECODER=sharp, every
 * image goes to sharp as before; `jpegDecoderStatus` says which, for the startup log.
 */
import { loadAddon } from '../../native/addons.js';

export interface TurboJpeg {
  /**
   * width x height x 3 RGB, or outWidth x outHeight when given: decoded at 1/scale (dctScale),
   * then shrunk the rest of the way with a triangle filter (native/turbojpeg/shrink.c); throws
   * where libjpeg-turbo fails or warns (damaged or cut data).
   */
  decodeRgb(jpeg: Uint8Array, width: number, height: number, outWidth?: number, outHeight?: number, scale?: DctScale): Buffer;
}

export type DctScale = 1 | 2 | 4 | 8;

/**
 * The DCT scale a JPEG of width x height is decoded at to be shrunk to target: sharp's own
 * shrink-on-load choice (node_modules/sharp/src/pipeline.cc), which leaves a shrink of at least
 * 1.125x after it (2x to 3x decodes whole, 4x to 5x at 1/2). Against a lanczos3 resize from the
 * full decode, on the shared photos this path is 1.13 levels off on average at max_size 640 and
 * 1.39 at 320 (sharp's own path: 1.24 and 1.53); the largest scale that still covers the target
 * gave 1.21 and 1.53 for 0.5 to 0.75 ms less a photo (bench/throughput-history.md, round
 * seven; test/jpeg-decoder.test.ts keeps the comparison with sharp's path).
 */
export function dctScale(width: number, height: number, target: { width: number; height: number }): DctScale {
  const shrink = Math.min(width / target.width, height / target.height);
  const k: DctScale = shrink >= 8 ? 8 : shrink >= 4 ? 4 : shrink >= 2 ? 2 : 1;
  // sharp: "Lower shrink-on-load for known libjpeg rounding errors".
  return k > 1 && Math.trunc(shrink) === k ? (k / 2 as DctScale) : k;
}

/** Who decodes plain JPEGs (FACEREST_JPEG_DECODER), and who decoded an image (facerest_decodes_total). */
export type Decoder = 'libjpeg-turbo' | 'sharp';

/** libjpeg-turbo where it loads; sharp when asked, or where it does not. */
export const DEFAULT_DECODER: Decoder = 'libjpeg-turbo';

type Addon = Partial<TurboJpeg> & { unavailable?: string };

/** The decoder, or why there is none: the addon not built, or libturbojpeg.so.0 not there. */
function load(): { decoder?: TurboJpeg; reason?: string } {
  const { addon, reason } = loadAddon<Addon>('facerest_turbojpeg');
  if (!addon) return { reason };
  return addon.decodeRgb ? { decoder: addon as TurboJpeg } : { reason: addon.unavailable ?? 'the addon has no decoder' };
}

/** The decoder this thread uses for plain JPEGs, or undefined: sharp for every image. */
export function turboJpeg(choice: Decoder): TurboJpeg | undefined {
  return choice === 'libjpeg-turbo' ? load().decoder : undefined;
}

/** Which decoder plain JPEGs get, and why not libjpeg-turbo when not. */
export function jpegDecoderStatus(choice: Decoder): string {
  if (choice === 'sharp') return 'sharp (FACEREST_JPEG_DECODER=sharp)';
  const { decoder, reason } = load();
  return decoder ? 'libjpeg-turbo' : `sharp: ${reason}`;
}
