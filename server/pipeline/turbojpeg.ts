/**
 * The plain-JPEG decoder: native/turbojpeg/decode.c (libjpeg-turbo's TurboJPEG API, built by
 * `npm run build`), for the JPEGs sharp would only decode (decode.ts's plan says which). Where
 * the addon was not built or libturbojpeg.so.0 is missing, or FACEREST_JPEG_DECODER=sharp, every
 * image goes to sharp as before; `jpegDecoderStatus` says which, for the startup log.
 */
import { loadAddon } from '../../native/addons.js';

export interface TurboJpeg {
  /** width x height x 3 RGB; throws where libjpeg-turbo fails or warns (damaged or cut data). */
  decodeRgb(jpeg: Uint8Array, width: number, height: number): Buffer;
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
