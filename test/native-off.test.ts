/**
 * FACEREST_NATIVE=off: the whole server on its portable paths, as on a machine where the C
 * addons (native/) were not built. Plain JPEGs go to sharp and the detector input through ONNX
 * Runtime's Resize graph (Display P3 is converted and aligned faces sampled in JavaScript:
 * test/decode-icc.test.ts and test/native-sampling.test.ts compare those loops with C's), and
 * for a photo within max_size both give the same pixels as the C paths to the bit, so the
 * answers are the same faces and the same embeddings.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { FaceGrpcClient } from '../clients/node/grpc-client.js';
import { BBT, readFace } from './helpers/data.js';
import { metricValue, scrape } from './helpers/metrics.js';
import { serverWithClient } from './helpers/server.js';

const PHOTO = readFace(BBT[2]); // 594x383, within max_size: the same pixels from either decoder

async function extract(client: FaceGrpcClient) {
  const res = await client.extract({ images: [{ data: PHOTO }], options: { maxSize: 640 } });
  return res.results[0].faces;
}

describe('FACEREST_NATIVE=off', () => {
  const off = serverWithClient({ FACEREST_NATIVE: 'off' });
  const on = serverWithClient();

  it('runs on sharp and the Resize graph, says so, and answers as the C paths do', async () => {
    const ready = off.server.logs().find((l) => l.msg === 'ready')!;
    assert.match(String(ready.jpegDecoder), /^sharp: turned off \(FACEREST_NATIVE=off\)/);
    assert.match(String(ready.detectorResize), /^onnxruntime: turned off \(FACEREST_NATIVE=off\)/);
    assert.match(String(ready.colourConversion), /^javascript: turned off \(FACEREST_NATIVE=off\)/);
    assert.match(String(ready.faceSampling), /^javascript: turned off \(FACEREST_NATIVE=off\)/);
    assert.equal(on.server.logs().find((l) => l.msg === 'ready')!.detectorResize, 'native');
    assert.equal(on.server.logs().find((l) => l.msg === 'ready')!.colourConversion, 'native');
    assert.equal(on.server.logs().find((l) => l.msg === 'ready')!.faceSampling, 'native');

    const [portable, native] = [await extract(off.client), await extract(on.client)];
    assert.ok(portable.length >= 3, `${portable.length} faces`);
    assert.equal(portable.length, native.length);
    portable.forEach((face, i) => {
      assert.deepEqual(face.box, native[i].box);
      assert.deepEqual(face.embedding, native[i].embedding);
    });

    const metrics = await scrape(off.server.baseUrl);
    assert.ok(metricValue(metrics, 'facerest_decodes_total', { decoder: 'sharp' }) >= 1);
    assert.equal(metricValue(metrics, 'facerest_decodes_total', { decoder: 'libjpeg-turbo' }), 0);
    // The detector input was resized by ONNX Runtime: its input graph ran.
    assert.ok(metricValue(metrics, 'facerest_onnx_cpu_seconds_total', { role: 'preprocess' }) > 0);
  });

  it('is checked at startup: a wrong value is refused by name', async () => {
    const { loadConfig } = await import('../server/config.js');
    assert.throws(() => loadConfig({ FACEREST_NATIVE: 'no' }), /FACEREST_NATIVE must be 'on' or 'off' \(got 'no'\)/);
    assert.equal(loadConfig({}).native, true);
    assert.equal(loadConfig({ FACEREST_NATIVE: 'off' }).native, false);
  });
});
