/**
 * Issue 14, section 2: decode.ts reads a JPEG's header in JavaScript (server/pipeline/jpeg-header.ts)
 * instead of asking sharp's metadata(). Whatever it answers must be what libvips reads (size,
 * components, EXIF orientation, the ICC profile), checked here against sharp itself on every
 * shared JPEG and on crafted headers; whatever it is unsure of it leaves to sharp (undefined).
 */
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import sharp from 'sharp';
import { ImageErrorCode } from '../gen/facerest/v1/face_service_pb.js';
import { decodeImage, ImageError, type DecodedImage } from '../server/pipeline/decode.js';
import { readJpegHeader } from '../server/pipeline/jpeg-header.js';
import { readFace, sharedPath } from './helpers/data.js';

/** Every file of the shared photo folders whose name says JPEG. */
function sharedJpegs(): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      if (e.isDirectory()) walk(join(dir, e.name));
      else if (/\.jpe?g$/i.test(e.name)) out.push(join(dir, e.name));
    }
  };
  walk(sharedPath('faces'));
  return out.sort();
}

/** Fails unless the JavaScript header says what sharp (libvips) reads. */
async function assertSameAsSharp(jpeg: Buffer, name: string): Promise<void> {
  const header = readJpegHeader(jpeg);
  assert.ok(header, `${name}: the header reader left a plain JPEG to sharp`);
  const meta = await sharp(jpeg).metadata();
  assert.deepEqual(
    { width: header.width, height: header.height, channels: header.channels, orientation: header.orientation, progressive: header.progressive },
    { width: meta.width, height: meta.height, channels: meta.channels, orientation: meta.orientation ?? 1, progressive: meta.isProgressive },
    name,
  );
  assert.equal(header.icc?.toString('hex'), meta.icc?.toString('hex'), `${name}: ICC profile`);
}

/** A JPEG marker segment: 0xff, the marker, a 2-byte length, the body. */
function segment(marker: number, body: Uint8Array): Buffer {
  const head = Buffer.from([0xff, marker, 0, 0]);
  head.writeUInt16BE(body.length + 2, 2);
  return Buffer.concat([head, body]);
}

/** `jpeg` with `segments` inserted right after its SOI marker. */
const withSegments = (jpeg: Buffer, ...segments: Buffer[]) => Buffer.concat([jpeg.subarray(0, 2), ...segments, jpeg.subarray(2)]);

/** An APP2 ICC_PROFILE chunk: sequence number (from 1) and count, then its part of the profile. */
const iccChunk = (seq: number, count: number, part: Uint8Array) => segment(0xe2, Buffer.concat([Buffer.from('ICC_PROFILE\0', 'latin1'), Buffer.from([seq, count]), part]));

type Entry = [tag: number, type: number, count: number, value: number];

/** An APP1 Exif block (big-endian TIFF) with the given IFDs chained: IFD0, then IFD1. */
function exifSegment(ifds: Entry[][]): Buffer {
  const parts: Buffer[] = [Buffer.from('MM\0\x2a\0\0\0\x08', 'latin1')];
  let offset = 8;
  ifds.forEach((entries, i) => {
    const ifd = Buffer.alloc(2 + 12 * entries.length + 4);
    ifd.writeUInt16BE(entries.length, 0);
    entries.forEach(([tag, type, count, value], e) => {
      ifd.writeUInt16BE(tag, 2 + 12 * e);
      ifd.writeUInt16BE(type, 4 + 12 * e);
      ifd.writeUInt32BE(count, 6 + 12 * e);
      ifd.writeUInt16BE(value, 10 + 12 * e);
    });
    offset += ifd.length;
    ifd.writeUInt32BE(i + 1 < ifds.length ? offset : 0, ifd.length - 4);
    parts.push(ifd);
  });
  return segment(0xe1, Buffer.concat([Buffer.from('Exif\0\0', 'latin1'), ...parts]));
}

const ORIENTATION = 0x0112;
const SHORT = 3;
const SOFTWARE = 0x0131; // any other tag
const ASCII = 2;

describe('JPEG header read in JavaScript', () => {
  const plain = () => sharp({ create: { width: 64, height: 48, channels: 3, background: '#8040c0' } }).jpeg().toBuffer();

  it('reads what sharp reads on every shared JPEG, as stored and re-tagged with each EXIF orientation', async () => {
    let read = 0;
    for (const path of sharedJpegs()) {
      const data = readFace(path.slice(sharedPath('faces').length + 1));
      // One shared ".jpg" is a WebP: the header reader must leave it (and any non-JPEG) to sharp.
      if ((await sharp(data).metadata()).format !== 'jpeg') {
        assert.equal(readJpegHeader(data), undefined, path);
        continue;
      }
      await assertSameAsSharp(data, path);
      read++;
    }
    // 110 JPEGs when written (plain, progressive, 4:4:4, grey, sRGB/P3/Adobe/display profiles).
    assert.ok(read >= 100, `only ${read} shared JPEGs`);
    const photo = readFace('deepface/img1.jpg');
    for (let o = 1; o <= 8; o++) {
      await assertSameAsSharp(await sharp(photo).withMetadata({ orientation: o }).jpeg().toBuffer(), `orientation ${o}`);
    }
  });

  it('reads grey and CMYK JPEGs and profiles libvips writes (P3, CMYK)', async () => {
    const photo = readFace('deepface/img1.jpg');
    await assertSameAsSharp(await sharp(photo).greyscale().jpeg().toBuffer(), 'grey');
    await assertSameAsSharp(await sharp(photo).withIccProfile('p3').jpeg({ progressive: true }).toBuffer(), 'P3, progressive');
    const cmyk = await sharp(photo).toColourspace('cmyk').jpeg().toBuffer();
    assert.equal(readJpegHeader(cmyk)?.channels, 4);
    await assertSameAsSharp(cmyk, 'CMYK');
  });

  it('joins an ICC profile split over APP2 chunks by their sequence numbers, in any order, as libvips does', async () => {
    const profile = (await sharp(readFace('deepface/img1.jpg')).metadata()).icc!;
    const thirds = [profile.subarray(0, 1000), profile.subarray(1000, 2000), profile.subarray(2000)];
    const base = await plain();
    await assertSameAsSharp(withSegments(base, iccChunk(1, 3, thirds[0]), iccChunk(2, 3, thirds[1]), iccChunk(3, 3, thirds[2])), 'in order');
    const shuffled = withSegments(base, iccChunk(3, 3, thirds[2]), iccChunk(1, 3, thirds[0]), iccChunk(2, 3, thirds[1]));
    await assertSameAsSharp(shuffled, 'shuffled');
    assert.equal(readJpegHeader(shuffled)?.icc?.equals(profile), true);
  });

  it('takes the orientation from IFD0 only, as libvips does (not from the thumbnail\'s IFD1)', async () => {
    const base = await plain();
    const ifd0 = [[SOFTWARE, ASCII, 4, 0x6161]] as Entry[];
    const inIfd1 = withSegments(base, exifSegment([ifd0, [[ORIENTATION, SHORT, 1, 6]]]));
    assert.equal(readJpegHeader(inIfd1)?.orientation, 1);
    await assertSameAsSharp(inIfd1, 'orientation in IFD1');
    const both = withSegments(base, exifSegment([[[ORIENTATION, SHORT, 1, 3]], [[ORIENTATION, SHORT, 1, 6]]]));
    assert.equal(readJpegHeader(both)?.orientation, 3);
    await assertSameAsSharp(both, 'orientation in IFD0 and IFD1');
    const none = withSegments(base, exifSegment([ifd0]));
    assert.equal(readJpegHeader(none)?.orientation, 1);
    await assertSameAsSharp(none, 'no orientation tag');
  });

  it('leaves to sharp what it is unsure of, and decodeImage still answers as sharp does', async () => {
    const base = await plain();
    const sofAt = base.indexOf(Buffer.from([0xff, 0xc0]));
    const noHeight = Buffer.from(base);
    noHeight.writeUInt16BE(0, sofAt + 5);
    const odd = {
      'orientation 9': withSegments(base, exifSegment([[[ORIENTATION, SHORT, 1, 9]]])),
      'orientation as a LONG': withSegments(base, exifSegment([[[ORIENTATION, 4, 1, 6]]])),
      'two Exif blocks': withSegments(base, exifSegment([[[ORIENTATION, SHORT, 1, 6]]]), exifSegment([[[ORIENTATION, SHORT, 1, 3]]])),
      'an ICC chunk missing': withSegments(base, iccChunk(1, 3, Buffer.alloc(200)), iccChunk(3, 3, Buffer.alloc(200))),
      'an ICC chunk twice': withSegments(base, iccChunk(1, 1, Buffer.alloc(200)), iccChunk(1, 1, Buffer.alloc(200))),
      'height 0 (DNL)': noHeight,
      'cut inside the header': base.subarray(0, sofAt + 6),
      'no SOF before the scan': Buffer.concat([base.subarray(0, sofAt), base.subarray(sofAt + 2 + base.readUInt16BE(sofAt + 2))]),
    };
    for (const [name, data] of Object.entries(odd)) {
      assert.equal(readJpegHeader(data), undefined, name);
      // What decodeImage makes of it is sharp's reading, as before the header reader.
      const viaSharp = await sharp(data, { failOn: 'warning' }).metadata().then((m) => m, () => undefined);
      const decoded: unknown = await decodeImage(data, 640).then((d) => d, (e: unknown) => e);
      if (viaSharp?.width && viaSharp.height) {
        assert.ok(!(decoded instanceof Error), `${name}: ${String(decoded)}`);
        const { width, height } = decoded as DecodedImage;
        const swap = (viaSharp.orientation ?? 1) >= 5;
        assert.deepEqual([width, height], swap ? [viaSharp.height, viaSharp.width] : [viaSharp.width, viaSharp.height], name);
      } else {
        assert.ok(decoded instanceof ImageError && decoded.code === ImageErrorCode.CORRUPT, `${name}: ${String(decoded)}`);
      }
    }
  });
});
