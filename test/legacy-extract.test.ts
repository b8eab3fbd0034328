/** POST /extract speaks the original InsightFace-REST JSON, unchanged. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { BBT, readFace } from './helpers/data.js';
import { base64, postExtract } from './helpers/legacy.js';
import { startServer, type TestServer } from './helpers/server.js';

describe('legacy POST /extract', () => {
  let server: TestServer;
  before(async () => { server = await startServer(); });
  after(async () => { await server.stop(); });

  it('answers one list of faces per image, in request order, in the original shape', async () => {
    const files = [BBT[1], BBT[0], 'face-api.js/test/images/white.png'];
    const { status, json, contentType } = await postExtract(server.baseUrl, {
      images: { data: files.map((f) => base64(readFace(f))) }, max_size: 640,
    });
    assert.equal(status, 200);
    assert.match(contentType ?? '', /application\/json/);
    assert.ok(Array.isArray(json));
    assert.deepEqual(json.map((faces: unknown[]) => faces.length), [3, 4, 0]);
    for (const faces of json.slice(0, 2)) {
      faces.forEach((face: any, i: number) => {
        assert.deepEqual(Object.keys(face).sort(), ['bbox', 'det', 'prob', 'vec']);
        assert.equal(face.det, i);
        assert.ok(face.prob > 0 && face.prob <= 1, `prob ${face.prob} must be a probability`);
        assert.equal(face.bbox.length, 4);
        for (const v of face.bbox) assert.ok(Number.isInteger(v), `bbox value ${v} must be an integer`);
        assert.ok(face.bbox[2] > face.bbox[0] && face.bbox[3] > face.bbox[1]);
        assert.equal(face.vec.length, 512);
        const norm = Math.hypot(...face.vec);
        assert.ok(Math.abs(norm - 1) < 1e-4, `vec must be L2-normalised, norm ${norm}`);
      });
    }
  });

  it('uses max_size 640 when absent and reports boxes in original pixels', async () => {
    const image = base64(readFace(BBT[0]));
    const withDefault = await postExtract(server.baseUrl, { images: { data: [image] } });
    const explicit = await postExtract(server.baseUrl, { images: { data: [image] }, max_size: 640 });
    assert.equal(withDefault.status, 200);
    assert.deepEqual(withDefault.json, explicit.json);
    // bbt1.jpg is 1366x768: boxes beyond 640 prove the mapping back to original pixels.
    const maxX = Math.max(...withDefault.json[0].map((f: any) => f.bbox[2]));
    assert.ok(maxX > 640 && maxX <= 1366, `largest x2 ${maxX}`);
  });

  it('accepts data: URLs as well as bare base64', async () => {
    const bare = await postExtract(server.baseUrl, { images: { data: [base64(readFace(BBT[2]))] } });
    const url = await postExtract(server.baseUrl, {
      images: { data: [`data:image/jpeg;base64,${base64(readFace(BBT[2]))}`] },
    });
    assert.deepEqual(url.json, bare.json);
  });

  it('refuses other methods on /extract with 405', async () => {
    const res = await fetch(`${server.baseUrl}/extract`);
    assert.equal(res.status, 405);
  });
});
