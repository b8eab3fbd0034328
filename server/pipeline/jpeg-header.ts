/**
 * A JPEG's header read in JavaScript: size, components, precision, EXIF orientation and the ICC
 * profile, the fields decode.ts took from sharp's `metadata()`. That call is a second trip
 * through sharp and libvips per image (their JavaScript side on the main thread, a header parse
 * with libexif on libuv's pool); reading the markers here costs microseconds (issue 14,
 * section 2). Anything this reader is not sure libvips would read the same way (a marker
 * missing or out of place, a 12-bit or odd component count, EXIF it cannot follow, ICC chunks
 * out of order) answers undefined, and decode.ts asks sharp as before, so its errors and its
 * view of odd files stay what they were.
 */

export interface JpegHeader {
  width: number;
  height: number;
  /** Colour components in the frame: 1 (grey), 3 (YCbCr or RGB) or 4 (CMYK or YCCK). */
  channels: 1 | 3 | 4;
  /** EXIF orientation, 1 to 8 (1 when there is none). */
  orientation: number;
  /** The embedded ICC profile, its APP2 chunks joined in order. */
  icc?: Buffer;
  progressive: boolean;
}

/** libvips keeps at most this many ICC chunks (jpeg2vips.c, MAX_APP2_SECTIONS). */
const MAX_ICC_CHUNKS = 100;
const SOS = 0xda;
const EOI = 0xd9;

/** Start-of-frame markers: C0-CF except C4 (Huffman tables), C8 (reserved) and CC (arithmetic conditioning). */
function isSof(marker: number): boolean {
  return marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
}

/** The header of a JPEG, or undefined when sharp should read it instead (see above). */
export function readJpegHeader(data: Uint8Array): JpegHeader | undefined {
  if (data.length < 4 || data[0] !== 0xff || data[1] !== 0xd8) return undefined;
  let at = 2;
  let frame: Omit<JpegHeader, 'orientation' | 'icc'> | undefined;
  let exif: Uint8Array | undefined;
  let exifCount = 0;
  const icc: (Uint8Array | undefined)[] = [];
  let iccCount = 0;
  for (;;) {
    if (at + 4 > data.length || data[at] !== 0xff) return undefined;
    // Any number of 0xff fill bytes may come before a marker.
    while (data[at] === 0xff && at < data.length) at++;
    if (at + 3 > data.length) return undefined;
    const marker = data[at++];
    // Stand-alone markers before the scan: not expected, so not guessed at.
    if (marker === 0x00 || marker === 0x01 || (marker >= 0xd0 && marker <= 0xd8) || marker === EOI) return undefined;
    const length = (data[at] << 8) | data[at + 1];
    if (length < 2 || at + length > data.length) return undefined;
    const body = data.subarray(at + 2, at + length);
    at += length;
    if (marker === SOS) break;
    if (isSof(marker)) {
      if (frame || body.length < 6) return undefined;
      const precision = body[0];
      const height = (body[1] << 8) | body[2];
      const width = (body[3] << 8) | body[4];
      const channels = body[5];
      // Height 0 (set later by a DNL marker), 12- and 16-bit samples, lossless and hierarchical
      // frames are rare enough to leave to sharp.
      if (precision !== 8 || width === 0 || height === 0) return undefined;
      if (channels !== 1 && channels !== 3 && channels !== 4) return undefined;
      if (marker === 0xc3 || marker === 0xc7 || marker === 0xcb || marker === 0xcf || marker === 0xc5 || marker === 0xc6 || marker === 0xcd || marker === 0xce) return undefined;
      if (body.length < 6 + 3 * channels) return undefined;
      frame = { width, height, channels, progressive: marker === 0xc2 || marker === 0xca };
    } else if (marker === 0xe1 && startsWith(body, 'Exif\0\0')) {
      exif = body.subarray(6);
      exifCount++;
    } else if (marker === 0xe2 && body.length > 14 && startsWith(body, 'ICC_PROFILE\0')) {
      const seq = body[12] - 1;
      if (seq < 0 || seq >= MAX_ICC_CHUNKS || icc[seq] !== undefined) return undefined;
      icc[seq] = body.subarray(14);
      iccCount++;
    }
  }
  if (!frame) return undefined;
  let orientation = 1;
  if (exif) {
    // libvips keeps the last Exif block; two are odd enough to leave to it.
    if (exifCount > 1) return undefined;
    const o = exifOrientation(exif);
    if (o === undefined) return undefined;
    orientation = o;
  }
  let profile: Buffer | undefined;
  if (iccCount > 0) {
    // libvips joins chunks 1, 2, ... up to the first missing one; a gap is left to it.
    for (let i = 0; i < iccCount; i++) if (icc[i] === undefined) return undefined;
    profile = Buffer.concat(icc.slice(0, iccCount) as Uint8Array[]);
  }
  return { ...frame, orientation, icc: profile };
}

function startsWith(data: Uint8Array, text: string): boolean {
  if (data.length < text.length) return false;
  for (let i = 0; i < text.length; i++) if (data[i] !== text.charCodeAt(i)) return false;
  return true;
}

const ORIENTATION_TAG = 0x0112;
const SHORT = 3;

/**
 * The Orientation tag of IFD0 of a TIFF-structured Exif block: 1 when it has none, undefined
 * when the block cannot be followed or the value is not 1-8. libvips reads IFD0's tag only (one
 * in IFD1, the thumbnail's, is not applied: test/jpeg-header.test.ts).
 */
function exifOrientation(tiff: Uint8Array): number | undefined {
  if (tiff.length < 8) return undefined;
  const little = tiff[0] === 0x49 && tiff[1] === 0x49;
  if (!little && !(tiff[0] === 0x4d && tiff[1] === 0x4d)) return undefined;
  const view = new DataView(tiff.buffer, tiff.byteOffset, tiff.byteLength);
  if (view.getUint16(2, little) !== 42) return undefined;
  const ifd = view.getUint32(4, little);
  if (ifd < 8 || ifd + 2 > tiff.length) return undefined;
  const end = ifd + 2 + 12 * view.getUint16(ifd, little);
  if (end > tiff.length) return undefined;
  for (let e = ifd + 2; e < end; e += 12) {
    if (view.getUint16(e, little) !== ORIENTATION_TAG) continue;
    if (view.getUint16(e + 2, little) !== SHORT || view.getUint32(e + 4, little) !== 1) return undefined;
    const value = view.getUint16(e + 8, little);
    return value >= 1 && value <= 8 ? value : undefined;
  }
  return 1;
}
