/**
 * Issue 14: a plain JPEG (3 components, 8 bits, no EXIF rotation, already within max_size, no
 * profile for lcms) is decoded by libjpeg-turbo directly (native/turbojpeg,
 * server/pipeline/turbojpeg.ts) instead of through sharp's pipeline. It must give sharp's
 * pixels to the bit, every refusal must keep sharp's words, and anything else must still go to
 * sharp. libturbojpeg.so.0 comes from Debian's libturbojpeg0 (.ci/run installs it); without it
 * these tests are skipped with one line, except under CI=true, where they fail.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import sharp from 'sharp';
import { decodePlanned, planDecode, type DecodePlan } from '../server/pipeline/decode.js';
import { jpegDecoderStatus, turboJpeg } from '../server/pipeline/turbojpeg.js';
import { benchPhotos } from '../bench/photos.js';
import { loadConfig } from '../server/config.js';
import { underCi } from './helpers/ci.js';
import { readFace } from './helpers/data.js';
import { metricValue, scrape } from './helpers/metrics.js';
import { serverWithClient } from './helpers/server.js';

const jpeg = turboJpeg('libjpeg-turbo');
const suite = jpeg || underCi() ? {} : { skip: `${jpegDecoderStatus('libjpeg-turbo')} (apt-get install libturbojpeg0; under CI=true these tests fail)` };
const MAX = 640;

/** The pixels and the error, if any, of one decode. */
async function outcome(data: Buffer, plan: DecodePlan, withTurbo: boolean) {
  try {
    const { image, decoder } = await decodePlanned(data, plan, withTurbo ? jpeg : undefined);
    return { pixels: Buffer.from(image.data), width: image.width, height: image.height, decoder };
  } catch (err) {
    return { error: `${(err as { code?: number }).code}: ${(err as Error).message}` };
  }
}

/** Each shared photo as a client that resizes before sending would send it, in several encodings. */
async function plainCopies(): Promise<{ name: string; data: Buffer }[]> {
  const copies: { name: string; data: Buffer }[] = [];
  for (const [i, photo] of benchPhotos().entries()) {
    const fitted = sharp(photo.data).rotate().resize(MAX, MAX, { fit: 'inside', withoutEnlargement: true });
    copies.push({ name: `${photo.name} 4:2:0`, data: await fitted.clone().jpeg({ quality: 90 }).toBuffer() });
    // Every fourth photo also as progressive, 4:4:4 and mozjpeg's own (trellis, progressive).
    if (i % 4 === 0) {
      copies.push({ name: `${photo.name} progressive`, data: await fitted.clone().jpeg({ quality: 85, progressive: true }).toBuffer() });
      copies.push({ name: `${photo.name} 4:4:4`, data: await fitted.clone().jpeg({ quality: 95, chromaSubsampling: '4:4:4' }).toBuffer() });
      copies.push({ name: `${photo.name} mozjpeg`, data: await fitted.clone().jpeg({ mozjpeg: true }).toBuffer() });
    }
  }
  return copies;
}

describe('the plain-JPEG decoder (libjpeg-turbo)', suite, () => {
  it('loads, and FACEREST_JPEG_DECODER chooses', () => {
    assert.ok(jpeg, jpegDecoderStatus('libjpeg-turbo'));
    assert.equal(jpegDecoderStatus('libjpeg-turbo'), 'libjpeg-turbo');
    assert.equal(turboJpeg('sharp'), undefined);
    assert.equal(loadConfig({}).jpegDecoder, 'libjpeg-turbo');
    assert.equal(loadConfig({ FACEREST_JPEG_DECODER: 'sharp' }).jpegDecoder, 'sharp');
    assert.throws(() => loadConfig({ FACEREST_JPEG_DECODER: 'libjpeg' }), /FACEREST_JPEG_DECODER must be 'libjpeg-turbo' or 'sharp' \(got 'libjpeg'\)/);
  });

  it("decodes every shared photo, as clients send them at 640 px, to sharp's pixels to the bit", async () => {
    const copies = await plainCopies();
    assert.ok(copies.length > 100);
    for (const { name, data } of copies) {
      const plan = await planDecode(data, MAX);
      assert.equal(plan.plainJpeg, true, name);
      const fast = await outcome(data, plan, true);
      const slow = await outcome(data, plan, false);
      assert.equal(fast.decoder, 'libjpeg-turbo', name);
      assert.equal(slow.decoder, 'sharp', name);
      assert.deepEqual([fast.width, fast.height], [slow.width, slow.height], name);
      assert.ok(fast.pixels!.equals(slow.pixels!), `${name}: pixels differ`);
    }
  });

  it('leaves to sharp what sharp must do more than decode', async () => {
    const photo = readFace('deepface/img1.jpg'); // 1382x1868, an sRGB profile
    const small = await sharp(photo).resize(400).jpeg().toBuffer();
    const cases: [string, Buffer, number][] = [
      ['larger than max_size', photo, MAX],
      // Decoded on the worker's own thread only up to 4 megapixels (PLAIN_MAX_PIXELS).
      ['over 4 megapixels at max_size 0', await sharp(photo).resize(2400, 1800, { fit: 'fill' }).jpeg().toBuffer(), 0],
      ['EXIF orientation 6', await sharp(small).withMetadata({ orientation: 6 }).jpeg().toBuffer(), MAX],
      ['grey', await sharp(small).toColourspace('b-w').jpeg().toBuffer(), MAX],
      ['CMYK', await sharp(small).toColourspace('cmyk').jpeg().toBuffer(), MAX],
      ['PNG', await sharp(small).png().toBuffer(), MAX],
    ];
    for (const [name, data, max] of cases) {
      const plan = await planDecode(data, max);
      assert.equal(plan.plainJpeg, false, name);
      assert.equal((await decodePlanned(data, plan, jpeg)).decoder, 'sharp', name);
    }
    // An aligned face is stretched to 112x112 by sharp.
    assert.equal((await planDecode(small, MAX, undefined, true)).plainJpeg, false);
    // Profiles: an sRGB one is ignored and a Display P3 one converted after decoding, the same
    // either way; max_size 0 keeps any size.
    for (const data of [photo, await sharp(small).withIccProfile('p3').jpeg().toBuffer()]) {
      const plan = await planDecode(data, 0);
      assert.equal(plan.plainJpeg, true);
      const fast = await outcome(data, plan, true);
      assert.equal(fast.decoder, 'libjpeg-turbo');
      assert.ok(fast.pixels!.equals((await outcome(data, plan, false)).pixels!));
    }
  });

  it("refuses a cut or damaged JPEG as sharp does, in sharp's words", async () => {
    const data = (await plainCopies()).slice(0, 8).map((c) => c.data);
    let refusedByTurbo = 0;
    for (const [i, good] of data.entries()) {
      const cut = good.subarray(0, Math.floor(good.length * 0.6));
      // Bytes of the entropy-coded data overwritten, at a different place in each photo.
      const damaged = Buffer.from(good);
      damaged.fill(0x55, Math.floor(good.length * (0.3 + i * 0.05)), Math.floor(good.length * (0.3 + i * 0.05)) + 64);
      for (const [what, bad] of [['cut', cut], ['damaged', damaged]] as const) {
        const plan = await planDecode(bad, MAX);
        assert.equal(plan.plainJpeg, true);
        try {
          jpeg!.decodeRgb(bad, plan.width, plan.height);
        } catch {
          refusedByTurbo++;
        }
        const fast = await outcome(bad, plan, true);
        const slow = await outcome(bad, plan, false);
        // Refused by both with the same code and message, or read by both to the same pixels.
        if (slow.error) assert.equal(fast.error, slow.error, `${what} ${i}`);
        else assert.ok(fast.pixels!.equals(slow.pixels!), `${what} ${i}`);
      }
    }
    // libjpeg-turbo itself stopped at every cut file at least: the refusals above were its own.
    assert.ok(refusedByTurbo >= data.length, `libjpeg-turbo refused ${refusedByTurbo}`);
  });

  describe('in the server', () => {
    const fx = serverWithClient();

    it('decodes plain JPEGs in the inference workers with libjpeg-turbo, and says so', async () => {
      const [plain] = await plainCopies();
      const res = await fx.client.extract({ images: [{ data: plain.data }, { data: readFace('deepface/img1.jpg') }], options: { maxSize: MAX } });
      assert.equal(res.results.length, 2);
      for (const r of res.results) assert.ok(r.faces.length >= 1);
      const metrics = await scrape(fx.server.baseUrl);
      assert.equal(metricValue(metrics, 'facerest_decodes_total', { decoder: 'libjpeg-turbo' }), 1);
      assert.equal(metricValue(metrics, 'facerest_decodes_total', { decoder: 'sharp' }), 1);
      assert.equal(fx.server.logs().find((l) => l.msg === 'ready')?.jpegDecoder, 'libjpeg-turbo');
    });
  });

  describe('in a server told FACEREST_JPEG_DECODER=sharp', () => {
    const fx = serverWithClient({ FACEREST_JPEG_DECODER: 'sharp' });

    it('gives sharp every image', async () => {
      const [plain] = await plainCopies();
      const res = await fx.client.extract({ images: [{ data: plain.data }], options: { maxSize: MAX } });
      assert.ok(res.results[0].faces.length >= 1);
      const metrics = await scrape(fx.server.baseUrl);
      assert.equal(metricValue(metrics, 'facerest_decodes_total', { decoder: 'sharp' }), 1);
      assert.equal(metricValue(metrics, 'facerest_decodes_total', { decoder: 'libjpeg-turbo' }), 0);
      assert.match(String(fx.server.logs().find((l) => l.msg === 'ready')?.jpegDecoder), /^sharp \(FACEREST_JPEG_DECODER=sharp\)/);
    });
  });
});
