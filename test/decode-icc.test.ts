/**
 * Issue 14: an embedded sRGB profile is not run through lcms (the transform changes nothing and
 * was half the decode); every other profile (Display P3 from iPhones, Adobe RGB, CMYK) still is,
 * so the models see the same colours as before.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import sharp from 'sharp';
import { decodeImage } from '../server/pipeline/decode.js';
import { isSrgbProfile } from '../server/pipeline/icc.js';
import { readFace } from './helpers/data.js';
import { serverWithClient } from './helpers/server.js';

const MAX = 640;
// Real photos of the shared set and the profiles they embed.
const HP_SRGB = readFace('deepface/img1.jpg'); // 'sRGB IEC61966-2.1' (HP, 3144 bytes)
const LCMS_SRGB = readFace('deepface/img25.jpg'); // lcms 'sRGB built-in' (656 bytes, v4)
const ADOBE_RGB = readFace('deepface/img14.jpg'); // Adobe RGB (1998) (560 bytes)
const APPLE_DISPLAY = readFace('deepface/couple.jpg'); // a Mac's calibrated 'Display' profile

const profileOf = async (jpeg: Buffer) => (await sharp(jpeg).metadata()).icc!;
const tagged = (profile: string) => sharp(HP_SRGB).withIccProfile(profile).jpeg({ quality: 95 }).toBuffer();

/** The pixels of the pipeline before issue 14: every embedded profile transformed to sRGB. */
async function transformed(jpeg: Buffer): Promise<Buffer> {
  return sharp(jpeg).rotate().resize({ width: MAX, height: MAX, fit: 'inside', withoutEnlargement: true })
    .flatten({ background: '#ffffff' }).toColourspace('srgb').raw({ depth: 'uchar' }).toBuffer();
}

async function ignored(jpeg: Buffer): Promise<Buffer> {
  return sharp(jpeg, { ignoreIcc: true }).rotate().resize({ width: MAX, height: MAX, fit: 'inside', withoutEnlargement: true })
    .raw({ depth: 'uchar' }).toBuffer();
}

function maxDiff(a: Uint8Array, b: Uint8Array): number {
  assert.equal(a.length, b.length);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
  return max;
}

const cosine = (a: number[], b: number[]) => a.reduce((s, v, i) => s + v * b[i], 0);

describe('embedded ICC profiles', () => {
  it('tells sRGB profiles from others by their primaries and tone curves', async () => {
    for (const jpeg of [HP_SRGB, LCMS_SRGB, await tagged('srgb')]) assert.equal(isSrgbProfile(await profileOf(jpeg)), true);
    for (const jpeg of [ADOBE_RGB, APPLE_DISPLAY, await tagged('p3')]) assert.equal(isSrgbProfile(await profileOf(jpeg)), false);
    const cmyk = await sharp(HP_SRGB).withIccProfile('cmyk').jpeg().toBuffer();
    assert.equal(isSrgbProfile(await profileOf(cmyk)), false);
    assert.equal(isSrgbProfile(Buffer.alloc(40)), false);
    // A corrupt tag table (offsets past the end) is not sRGB, and does not throw.
    const broken = Buffer.from(await profileOf(HP_SRGB));
    broken.writeUInt32BE(0xffff_fff0, 132 + 4);
    assert.equal(isSrgbProfile(broken), false);
  });

  it('an sRGB-tagged photo decodes to the same pixels as through the transform', async () => {
    for (const jpeg of [HP_SRGB, LCMS_SRGB]) {
      const { image } = await decodeImage(jpeg, MAX);
      // Measured: 0 (lcms' sRGB to sRGB is the identity at 8 bits) on both photos.
      assert.ok(maxDiff(image.data, await transformed(jpeg)) <= 1);
    }
  });

  it('a Display P3 or Adobe RGB photo is still transformed to sRGB', async () => {
    for (const jpeg of [await tagged('p3'), ADOBE_RGB]) {
      const { image } = await decodeImage(jpeg, MAX);
      assert.equal(maxDiff(image.data, await transformed(jpeg)), 0);
      // Ignoring the profile would be visibly wrong (measured 27 levels on img14, Adobe RGB).
      assert.ok(maxDiff(image.data, await ignored(jpeg)) >= 10);
    }
  });

  describe('faces', () => {
    const fx = serverWithClient();

    it('a photo and its Display P3 copy give the same faces and embeddings', async () => {
      const res = await fx.client.extract({ images: [{ data: HP_SRGB }, { data: await tagged('p3') }] });
      const [srgb, p3] = res.results;
      assert.equal(srgb.faces.length, 1);
      assert.equal(p3.faces.length, 1);
      // Measured 0.99984 (the copy is re-encoded at quality 95); the same copy with its P3 values
      // read as sRGB (the profile ignored) measured 0.99925: the recognizer hardly minds, but
      // the pipeline's output is deterministic, so the bound between the two is safe.
      assert.ok(cosine(srgb.faces[0].embedding, p3.faces[0].embedding) > 0.9995);
    });
  });
});
