/**
 * Image decoding with sharp (libvips, off the event loop on libuv's thread pool): any format
 * sharp reads, EXIF orientation applied, every colour model (grayscale, CMYK, alpha, 16-bit)
 * brought to 8-bit sRGB, and the `max_size` cap applied while decoding (JPEG shrink-on-load).
 * A plain JPEG goes to libjpeg-turbo directly where it loads (turbojpeg.ts): within max_size
 * the same pixels at a third of the CPU for a 640-px photo; shrunk to it, sharp's DCT scale and
 * a triangle filter, 12 against 16 ms for the shared original photos.
 */
import sharp from 'sharp';
import { ImageErrorCode } from '../../gen/facerest/v1/face_service_pb.js';
import type { RgbImage } from '../../models/inference/types.js';
import { ALIGNED_SIZE } from '../worker/align.js';
import { checkReadFormat, refuseUnknownFormat, type ImageFormat } from './image-format.js';
import { isSrgbProfile, matrixProfile } from './icc.js';
import { readJpegHeader } from './jpeg-header.js';
import { applySrgb, srgbConversion, type SrgbConversion } from './to-srgb.js';
import { dctScale, type Decoder, type TurboJpeg } from './turbojpeg.js';

/** An image that cannot be processed: its code and message are the image's error in the answer. */
export class ImageError extends Error {
  constructor(readonly code: ImageErrorCode, message: string) {
    super(message);
  }
}

/** decodePlanned's pixels, and who made them (facerest_decodes_total). */
export interface Decoded {
  /** The pixels the models see: at most max_size on the larger side. */
  image: RgbImage;
  decoder: Decoder;
}

export interface DecodedImage extends Decoded {
  /** Size after EXIF orientation, before resizing: the frame of the coordinates we return. */
  width: number;
  height: number;
}

// Each request brings new images: libvips' operation cache would only hold memory.
sharp.cache(false);
// One libvips thread per image: images decode in parallel on libuv's pool already, and the
// inference workers hold the other cores (measured on 640-px photos: 55.7 images/s against
// 54.7 with libvips' default of one thread per core).
sharp.concurrency(1);

/** sharp's error as the image's error: what kind, and its first line. */
function describeSharpError(err: Error): ImageError {
  const m = err.message;
  const line = m.split('\n')[0];
  if (/unsupported image format/i.test(m)) {
    return new ImageError(ImageErrorCode.UNSUPPORTED_FORMAT, 'unsupported format: not a supported image format (JPEG, PNG, WebP, GIF, TIFF, AVIF)');
  }
  if (/pixel limit/i.test(m)) return new ImageError(ImageErrorCode.TOO_LARGE, 'image too large: more pixels than the server accepts');
  // libvips keeps one error buffer for all its threads: with several images decoding at once the
  // decoder's own words ("Premature end of JPEG file") can be gone, leaving only sharp's "Warning
  // treated as error", which failOn: 'warning' raises only for damaged data (seen in CI once).
  if (/premature end|truncated|corrupt|VipsJpeg|pngload|read error|invalid|warning treated as error/i.test(m)) {
    return new ImageError(ImageErrorCode.CORRUPT, `corrupt or truncated image: ${line}`);
  }
  return new ImageError(ImageErrorCode.CORRUPT, `cannot decode image: ${line}`);
}

/**
 * The largest decoded image whose colours to-srgb.ts converts: about 2 ms in C, 6 in JavaScript
 * (0.64 and 1.7 measured for 640x480), on the thread that decodes (in the server, an inference worker).
 * Larger ones (max_size 0, the second decode of small faces) stay with lcms on libuv's
 * threads rather than hold a thread for tens of milliseconds.
 */
const CONVERT_MAX_PIXELS = 1_000_000;

/**
 * The most pixels libjpeg-turbo decodes on the worker's own thread for one plain JPEG (at its DCT
 * scale): about 13 ms (3.2 ms a megapixel measured on the 640-px set); larger ones (max_size 0 on
 * a large photo) stay with sharp on libuv's threads, where they do not hold up the worker's
 * other image.
 */
const PLAIN_MAX_PIXELS = 4_000_000;

/**
 * The largest plain JPEG, in its own pixels, decoded on the worker's own thread at any DCT
 * scale: the entropy decoding reads every coefficient whatever the scale (a 12-megapixel photo at
 * 1/4: 18 ms in tjbench, about 1.5 ms a megapixel), so a huge file would hold the worker for
 * longer than a photo's whole budget; above 24 megapixels (about 36 ms) sharp decodes it on
 * libuv's threads.
 */
const PLAIN_MAX_SOURCE_PIXELS = 24_000_000;

/** Whether libjpeg-turbo decodes a plain JPEG of width x height shrunk to target on the worker's thread. */
function plainFits(width: number, height: number, target: { width: number; height: number }): boolean {
  const k = dctScale(width, height, target);
  return width * height <= PLAIN_MAX_SOURCE_PIXELS && Math.ceil(width / k) * Math.ceil(height / k) <= PLAIN_MAX_PIXELS;
}

/** 100 megapixels: above the largest phone photos (about 50), far below what exhausts memory. */
export const DEFAULT_MAX_PIXELS = 100_000_000;

export interface DecodeOptions {
  /**
   * The image is an aligned face (aligned_input): decode it straight to the recognizer's 112x112,
   * stretched as the recognizer would, so a huge file never becomes a huge RGB buffer.
   */
  aligned?: boolean;
  /**
   * Awaited after the header is checked and before any pixel is decoded, with the number of
   * pixels the decoded image will have (to wait for room in the server's pixel budget).
   */
  beforeDecode?: (pixels: number) => Promise<void>;
  /** The plain-JPEG decoder (turbojpeg.ts); without it, sharp decodes every image. */
  jpeg?: TurboJpeg;
}

/** The size `decodeImage` gives an image of width x height (after EXIF orientation). */
export function decodedSize(width: number, height: number, maxSize: number, aligned = false): { width: number; height: number } {
  if (aligned) return { width: ALIGNED_SIZE, height: ALIGNED_SIZE };
  const larger = Math.max(width, height);
  if (maxSize <= 0 || larger <= maxSize) return { width, height };
  const k = maxSize / larger;
  return { width: Math.max(1, Math.round(width * k)), height: Math.max(1, Math.round(height * k)) };
}

/** What decodeImage needs of the header. */
interface Header {
  width?: number;
  height?: number;
  orientation?: number;
  icc?: Buffer;
  /** A 3-component 8-bit JPEG: a matrix profile on it is converted by to-srgb.ts. */
  rgbJpeg: boolean;
  /** Read by jpeg-header.ts: an 8-bit, non-lossless, non-hierarchical JPEG libjpeg-turbo reads. */
  markersRead: boolean;
}

/**
 * A JPEG's header from its markers (jpeg-header.ts: no second call into sharp), anything else,
 * and JPEGs that reader leaves alone, from sharp's metadata() (no pixel limit yet, so the
 * refusal can say what the image claims), with the format it read checked against the sniffed one.
 */
async function readHeader(data: Uint8Array, format: ImageFormat): Promise<Header> {
  if (format === 'jpeg') {
    const jpeg = readJpegHeader(data);
    if (jpeg) return { ...jpeg, rgbJpeg: jpeg.channels === 3, markersRead: true };
  }
  const meta = await sharp(data, { limitInputPixels: false }).metadata();
  checkReadFormat(format, meta);
  return { ...meta, rgbJpeg: meta.format === 'jpeg' && meta.channels === 3 && meta.depth === 'uchar', markersRead: false };
}

/**
 * What the header says and how the pixels are to be decoded: plain data, so that the header is
 * read where the request is (its limits and the pixel budget are checked before anything is
 * decoded) and the pixels are decoded by the inference worker that will use them
 * (server/worker/thread.ts), never crossing threads as a decoded image.
 */
export interface DecodePlan {
  /** Size after EXIF orientation, before resizing: the frame of the coordinates we return. */
  width: number;
  height: number;
  /**
   * About the decoded size (decodedSize), for the pixel budget: sharp's own rounding, kept so that
   * the pixels are the same as ever, can make it a pixel smaller.
   */
  target: { width: number; height: number };
  maxSize: number;
  maxPixels: number;
  aligned: boolean;
  /** Leave the embedded profile to `convert` (or to nothing: an sRGB one). */
  ignoreIcc: boolean;
  /** A matrix profile's conversion to sRGB, applied after the resize (to-srgb.ts). */
  convert?: SrgbConversion;
  /**
   * A JPEG libjpeg-turbo may decode (turbojpeg.ts): 3 components, 8 bits, no EXIF rotation, not
   * an aligned face, no profile for lcms (none, an sRGB one, or one left to `convert`), at most
   * PLAIN_MAX_PIXELS decoded and PLAIN_MAX_SOURCE_PIXELS read. Kept at its size, its pixels are sharp's to the bit; shrunk to
   * max_size, libjpeg-turbo's DCT scaling and a triangle filter stand in for sharp's.
   */
  plainJpeg: boolean;
}

/** sharp's and the header check's errors as the image's error. */
function imageError(err: unknown): unknown {
  if (err instanceof ImageError) return err;
  return describeSharpError(err as Error);
}

/**
 * Reads and checks the header. `maxPixels` is checked against the header's dimensions before any
 * pixel is decoded, so a small file that claims a huge image (a decompression bomb) costs
 * nothing; sharp's limitInputPixels enforces the same bound inside the decoder.
 */
export async function planDecode(data: Uint8Array, maxSize: number, maxPixels = DEFAULT_MAX_PIXELS, aligned = false): Promise<DecodePlan> {
  if (data.length === 0) throw new ImageError(ImageErrorCode.CORRUPT, 'empty image: 0 bytes');
  // Only the formats the README names; SVG is never rendered (image-format.ts's checkImageFormat,
  // with the header read below).
  const format = refuseUnknownFormat(data);
  try {
    const meta = await readHeader(data, format);
    if (!meta.width || !meta.height) throw new ImageError(ImageErrorCode.CORRUPT, 'image has no dimensions');
    const area = meta.width * meta.height;
    if (area > maxPixels) {
      throw new ImageError(ImageErrorCode.TOO_LARGE, `image too large: ${meta.width}x${meta.height} is ${(area / 1e6).toFixed(0)} megapixels, `
        + `over the limit of ${(maxPixels / 1e6).toFixed(1)}`);
    }
    // EXIF orientations 5-8 swap width and height.
    const swap = (meta.orientation ?? 1) >= 5;
    const width = swap ? meta.height : meta.width;
    const height = swap ? meta.width : meta.height;
    const target = decodedSize(width, height, maxSize, aligned);
    // An sRGB profile's transform to sRGB changes nothing and was half the decode; another
    // matrix profile on a plain 8-bit RGB JPEG (an iPhone's Display P3) is converted after the
    // resize, in to-srgb.ts, instead of by lcms before it (issue 14).
    const srgb = meta.icc !== undefined && isSrgbProfile(meta.icc);
    const small = target.width * target.height <= CONVERT_MAX_PIXELS;
    const profile = !srgb && small && meta.icc !== undefined && meta.rgbJpeg
      ? matrixProfile(meta.icc) : undefined;
    const convert = profile && srgbConversion(profile);
    const ignoreIcc = srgb || convert !== undefined;
    return {
      width, height, target, maxSize, maxPixels, aligned, ignoreIcc, convert,
      plainJpeg: meta.markersRead && meta.rgbJpeg && (meta.orientation ?? 1) === 1 && !aligned
        && plainFits(width, height, target) && (meta.icc === undefined || ignoreIcc),
    };
  } catch (err) {
    throw imageError(err);
  }
}

/**
 * Decodes the pixels as `plan` says: a plain JPEG by `jpeg` on the caller's thread where it is
 * given, anything else by sharp on libuv's threads; a colour conversion on the caller's.
 */
export async function decodePlanned(data: Uint8Array, plan: DecodePlan, jpeg?: TurboJpeg): Promise<Decoded> {
  const plain = plan.plainJpeg && jpeg ? decodePlain(data, plan, jpeg) : undefined;
  const decoded: Decoded = plain ? { image: plain, decoder: 'libjpeg-turbo' } : { image: await decodeWithSharp(data, plan), decoder: 'sharp' };
  if (plan.convert) applySrgb(decoded.image.data, plan.convert);
  return decoded;
}

/** A plain JPEG by libjpeg-turbo, or undefined where it stops: sharp then decides. */
function decodePlain(data: Uint8Array, plan: DecodePlan, jpeg: TurboJpeg): RgbImage | undefined {
  try {
    const { width, height } = plan.target;
    const pixels = jpeg.decodeRgb(data, plan.width, plan.height, width, height, dctScale(plan.width, plan.height, plan.target));
    return { data: new Uint8Array(pixels.buffer, pixels.byteOffset, pixels.byteLength), width, height };
  } catch {
    // A damaged file (libjpeg-turbo stops at a warning, as sharp's failOn: 'warning' does) or
    // one it will not read: every refusal keeps sharp's words, and a file only sharp reads is
    // still read. A damaged file costs one failed decode more, of at most PLAIN_MAX_PIXELS.
    return undefined;
  }
}

async function decodeWithSharp(data: Uint8Array, plan: DecodePlan): Promise<RgbImage> {
  try {
    const input = sharp(data, { limitInputPixels: plan.maxPixels, failOn: 'warning', ignoreIcc: plan.ignoreIcc });
    let pipeline = input.rotate();
    if (plan.aligned) {
      pipeline = pipeline.resize({ width: ALIGNED_SIZE, height: ALIGNED_SIZE, fit: 'fill' });
    } else if (plan.maxSize > 0 && Math.max(plan.width, plan.height) > plan.maxSize) {
      // A triangle filter (antialiased: libvips widens it with the shrink), as the detector input,
      // the landmark crop and the alignment view use, not sharp's default lanczos3: on the bench's
      // 65 original JPEGs 0.9 ms a photo less (15.5 to 14.6 CPU ms, bench/decode-set.ts), with
      // pairs.csv AUC 1.0000 at max_size 320 and 640 either way, 0.9954 to 0.9940 at 160
      // (bench/max-size-auc.ts).
      pipeline = pipeline.resize({ width: plan.maxSize, height: plan.maxSize, fit: 'inside', kernel: 'linear' });
    }
    const { data: pixels, info } = await pipeline
      .flatten({ background: '#ffffff' })
      .toColourspace('srgb')
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new ImageError(ImageErrorCode.CORRUPT, `unexpected decoded channel count ${info.channels}`);
    return { data: new Uint8Array(pixels.buffer, pixels.byteOffset, pixels.byteLength), width: info.width, height: info.height };
  } catch (err) {
    throw imageError(err);
  }
}

/** planDecode, then (after `beforeDecode`) decodePlanned: the whole decode on this thread. */
export async function decodeImage(
  data: Uint8Array, maxSize: number, maxPixels = DEFAULT_MAX_PIXELS, options: DecodeOptions = {},
): Promise<DecodedImage> {
  const plan = await planDecode(data, maxSize, maxPixels, options.aligned);
  // Not the image's fault (the call ended while waiting for room): passed on as it is.
  await options.beforeDecode?.(plan.target.width * plan.target.height);
  return { ...await decodePlanned(data, plan, options.jpeg), width: plan.width, height: plan.height };
}
