/**
 * The image formats the service accepts: JPEG, PNG, WebP, GIF, TIFF and AVIF, told from the
 * file's first bytes before any decoder sees it, then confirmed by what sharp says it read. sharp
 * reads more (SVG through librsvg, HEIC through libheif): an XML renderer on untrusted input is
 * attack surface the service does not need (a 2 KB SVG <use> bomb took seconds to render), so
 * everything else fails alone with "unsupported format".
 */
import sharp from 'sharp';
import { ImageErrorCode } from '../../gen/facerest/v1/face_service_pb.js';
import { ImageError } from './decode.js';

export type ImageFormat = 'jpeg' | 'png' | 'webp' | 'gif' | 'tiff' | 'avif';

const ACCEPTED = 'send JPEG, PNG, WebP, GIF, TIFF or AVIF';

function startsWith(data: Uint8Array, at: number, text: string): boolean {
  if (data.length < at + text.length) return false;
  for (let i = 0; i < text.length; i++) if (data[at + i] !== text.charCodeAt(i)) return false;
  return true;
}

/** AVIF: an ISO-BMFF file type box whose major or a compatible brand is avif (still) or avis (sequence). */
function isAvif(data: Uint8Array): boolean {
  if (!startsWith(data, 4, 'ftyp') || data.length < 16) return false;
  const size = ((data[0] << 24) | (data[1] << 16) | (data[2] << 8) | data[3]) >>> 0;
  if (size < 16 || size > 4096) return false;
  const end = Math.min(size, data.length);
  for (let at = 8; at + 4 <= end; at += 4) {
    if (at === 12) continue; // minor version, not a brand
    if (startsWith(data, at, 'avif') || startsWith(data, at, 'avis')) return true;
  }
  return false;
}

/** The accepted format these bytes begin as, or undefined. */
export function sniffImageFormat(data: Uint8Array): ImageFormat | undefined {
  if (data[0] === 0xff && data[1] === 0xd8 && data[2] === 0xff) return 'jpeg';
  if (startsWith(data, 0, '\x89PNG\r\n\x1a\n')) return 'png';
  if (startsWith(data, 0, 'RIFF') && startsWith(data, 8, 'WEBP')) return 'webp';
  if (startsWith(data, 0, 'GIF87a') || startsWith(data, 0, 'GIF89a')) return 'gif';
  // Little- and big-endian TIFF, and BigTIFF.
  if (['II*\0', 'MM\0*', 'II+\0', 'MM\0+'].some((m) => startsWith(data, 0, m))) return 'tiff';
  if (isAvif(data)) return 'avif';
  return undefined;
}

/** A name for what a refused file seems to be, so the answer can say it. */
function lookalike(data: Uint8Array): string | undefined {
  const head = Buffer.from(data.subarray(0, 256)).toString('latin1').replace(/^\xef\xbb\xbf/, '').trimStart();
  if (/^<(\?xml|svg|!--|!DOCTYPE)/i.test(head)) return 'SVG (XML)';
  if (data[0] === 0x1f && data[1] === 0x8b) return 'gzip data (svgz)';
  if (startsWith(data, 0, '%PDF')) return 'PDF';
  if (startsWith(data, 4, 'ftyp')) return 'HEIF/HEIC';
  if ((data[0] === 0xff && data[1] === 0x0a) || startsWith(data, 4, 'JXL ')) return 'JPEG XL';
  if (startsWith(data, 0, 'BM')) return 'BMP';
  return undefined;
}

/**
 * Throws an ImageError starting "unsupported format" unless `data` is one of the accepted
 * formats by its header and sharp reads it as that same format. A header sharp cannot read at
 * all is left to the decoder to describe (corrupt, truncated).
 */
export async function checkImageFormat(data: Uint8Array): Promise<void> {
  const format = refuseUnknownFormat(data);
  let meta: sharp.Metadata;
  try {
    meta = await sharp(data, { limitInputPixels: false }).metadata();
  } catch {
    return;
  }
  checkReadFormat(format, meta);
}

/** The first half of checkImageFormat, on the header's bytes alone: the format they begin as. */
export function refuseUnknownFormat(data: Uint8Array): ImageFormat {
  const format = sniffImageFormat(data);
  if (!format) {
    const name = lookalike(data);
    throw new ImageError(ImageErrorCode.UNSUPPORTED_FORMAT, `unsupported format: ${name ? `${name} is not accepted` : 'not a known image format'}; ${ACCEPTED}`);
  }
  return format;
}

/**
 * The second half, with the decoder's metadata of the same bytes (the decoder reads it once
 * for both: issue 14).
 */
export function checkReadFormat(format: ImageFormat, meta: sharp.Metadata): void {
  // sharp reports AVIF as HEIF with AV1 compression.
  const read = meta.format === 'heif' ? (meta.compression === 'av1' ? 'avif' : 'heif') : meta.format;
  if (read !== format) throw new ImageError(ImageErrorCode.UNSUPPORTED_FORMAT, `unsupported format: the header says ${format}, the decoder reads ${read}; ${ACCEPTED}`);
}
