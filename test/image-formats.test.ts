/**
 * Every input format and colour model sharp reads is brought to the same RGB pixels: the same
 * photo as PNG, WebP, GIF, TIFF, AVIF, grayscale, CMYK, with alpha, 16-bit or EXIF-rotated
 * finds the same faces as the JPEG.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import sharp from 'sharp';
import { BBT, readFace } from './helpers/data.js';
import { serverWithClient } from './helpers/server.js';

const jpeg = readFace(BBT[1]); // 3 faces
const EXPECTED_FACES = 3;

const variants: [string, () => Promise<Buffer>][] = [
  ['PNG', () => sharp(jpeg).png().toBuffer()],
  ['WebP', () => sharp(jpeg).webp({ quality: 90 }).toBuffer()],
  ['GIF (first frame of an animation)', async () => {
    const frame = await sharp(jpeg).raw().toBuffer({ resolveWithObject: true });
    const blank = Buffer.alloc(frame.data.length, 255);
    // Two frames stacked as pages: the face frame first, a white frame second.
    return sharp(Buffer.concat([frame.data, blank]), {
      raw: { width: frame.info.width, height: frame.info.height * 2, channels: 3, pageHeight: frame.info.height },
    }).gif().toBuffer();
  }],
  ['TIFF', () => sharp(jpeg).tiff().toBuffer()],
  ['AVIF', () => sharp(jpeg).avif({ quality: 70 }).toBuffer()],
  ['grayscale JPEG', () => sharp(jpeg).grayscale().jpeg().toBuffer()],
  ['CMYK JPEG', () => sharp(jpeg).toColourspace('cmyk').jpeg().toBuffer()],
  ['PNG with alpha', () => sharp(jpeg).ensureAlpha(1).png().toBuffer()],
  ['16-bit PNG', () => sharp(jpeg).toColourspace('rgb16').png().toBuffer()],
];

describe('image formats', () => {
  const fx = serverWithClient();

  it('decodes every format and colour model to the same faces', async () => {
    const images = await Promise.all(variants.map(async ([, make]) => ({ data: await make() })));
    const res = await fx.client.extract({ images: [{ data: jpeg }, ...images] });
    const [reference, ...others] = res.results;
    assert.equal(reference.faces.length, EXPECTED_FACES);
    others.forEach((r, i) => {
      const label = variants[i][0];
      assert.equal(r.error, undefined, `${label}: ${r.error?.message}`);
      assert.deepEqual([r.width, r.height], [reference.width, reference.height], label);
      assert.equal(r.faces.length, EXPECTED_FACES, label);
    });
  });

  it('applies EXIF orientation: a photo stored sideways is processed upright', async () => {
    // Pixels stored turned 90 degrees clockwise, tagged with orientation 8 ("turn 90 degrees
    // counter-clockwise to view"): viewed as tagged, the image is the upright original.
    const sideways = await sharp(jpeg).rotate(90).withMetadata({ orientation: 8 }).jpeg().toBuffer();
    const res = await fx.client.extract({ images: [{ data: jpeg }, { data: sideways }] });
    const [upright, tagged] = res.results;
    assert.deepEqual([tagged.width, tagged.height], [upright.width, upright.height]);
    assert.equal(tagged.faces.length, EXPECTED_FACES);
    tagged.faces.forEach((f) => {
      const match = upright.faces.some((u) => Math.abs(u.box!.x1 - f.box!.x1) < 0.1 * (u.box!.x2 - u.box!.x1)
        && Math.abs(u.box!.y1 - f.box!.y1) < 0.1 * (u.box!.y2 - u.box!.y1));
      assert.ok(match, 'each face of the tagged photo is where it is in the upright one');
    });
  });
});
