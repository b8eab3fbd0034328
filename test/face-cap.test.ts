/**
 * Faces per image are capped (FACEREST_MAX_FACES) and a task's worker time is bounded
 * (FACEREST_IMAGE_BUDGET_MS); the answer says when either cut faces off (faces_truncated), and
 * the legacy JSON keeps its shape. `threshold: 0` on a 1x1 PNG used to yield 1,000 "faces" and
 * hold a worker for 8.4 s (measured in-process, default pack, idle machine).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import sharp from 'sharp';
import { BBT, readFace } from './helpers/data.js';
import { base64 } from './helpers/legacy.js';
import { serverWithClient } from './helpers/server.js';

const tinyPng = () => sharp({ create: { width: 1, height: 1, channels: 3, background: '#808080' } }).png().toBuffer();
const LUMIA = readFace('detection/insightface-rest/lumia.jpg');

describe('faces cap, default settings', () => {
  const fx = serverWithClient();

  it('threshold 0 on a 1x1 PNG gives at most the default 500 faces, marked truncated', async () => {
    const started = Date.now();
    const res = await fx.client.extract({ images: [{ data: await tinyPng() }], options: { detectionThreshold: 0 } });
    const [r] = res.results;
    assert.equal(r.error, undefined);
    assert.equal(r.faces.length, 500);
    assert.equal(r.facesTruncated, true);
    // The faces kept are the most probable ones, in order.
    for (let i = 1; i < r.faces.length; i++) assert.ok(r.faces[i - 1].score >= r.faces[i].score);
    console.log(`# 500 faces of a 1x1 PNG at threshold 0 in ${Date.now() - started} ms`);
  });

  it('a real crowd is answered whole: lumia.jpg (112 faces at max_size 640) is not truncated', async () => {
    const [r] = (await fx.client.extract({ images: [{ data: LUMIA }] })).results;
    assert.ok(r.faces.length > 100, `${r.faces.length} faces`);
    assert.equal(r.facesTruncated, false);
  });
});

describe('faces cap, configured', () => {
  const fx = serverWithClient({ FACEREST_MAX_FACES: '5' });

  it('over gRPC: a photo with more faces than the cap gets the cap, marked; one with fewer is whole', async () => {
    const res = await fx.client.extract({ images: [{ data: readFace(BBT[3]) }, { data: readFace(BBT[1]) }] });
    const [six, three] = res.results;
    assert.equal(six.faces.length, 5);
    assert.equal(six.facesTruncated, true);
    assert.equal(three.faces.length, 3);
    assert.equal(three.facesTruncated, false);
  });

  it('POST /extract keeps its shape: a list of faces with the same keys, no new field', async () => {
    const res = await fetch(`${fx.server.baseUrl}/extract`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ images: { data: [base64(readFace(BBT[3]))] } }),
    });
    assert.equal(res.status, 200);
    const body = await res.json() as Record<string, unknown>[][];
    assert.equal(body[0].length, 5);
    for (const face of body[0]) assert.deepEqual(Object.keys(face).sort(), ['bbox', 'det', 'prob', 'vec']);
  });
});

describe('time budget per image', () => {
  // No faces cap, a 300 ms budget: the budget alone must bound the work.
  const fx = serverWithClient({ FACEREST_MAX_FACES: '0', FACEREST_IMAGE_BUDGET_MS: '300' });

  it('threshold 0 on a 1x1 PNG stops at the budget (a group of 16 faces at least) and says so', async () => {
    const started = Date.now();
    const [r] = (await fx.client.extract({ images: [{ data: await tinyPng() }], options: { detectionThreshold: 0 } })).results;
    const ms = Date.now() - started;
    assert.equal(r.facesTruncated, true);
    assert.ok(r.faces.length >= 16 && r.faces.length < 1000, `${r.faces.length} faces`);
    // 1,000 faces took 8.4 s; 300 ms of budget plus one group of 16 (about 0.15 s), with
    // room for a loaded machine.
    assert.ok(ms < 3000, `answered after ${ms} ms`);
    console.log(`# ${r.faces.length} faces within a 300 ms budget, answered in ${ms} ms`);
  });
});
