/** Bad input fails alone, with a message that names the problem; the server carries on. */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { BBT, readFace } from './helpers/data.js';
import { base64, postExtract } from './helpers/legacy.js';
import { serverWithClient } from './helpers/server.js';

const good1 = readFace(BBT[0]);
const good2 = readFace(BBT[1]);
const BATCH: [string, Buffer, RegExp | null][] = [
  ['good bbt1', good1, null],
  ['truncated JPEG', good1.subarray(0, Math.floor(good1.length / 2)), /truncated|premature end/i],
  ['random bytes', randomBytes(4096), /^unsupported format/],
  ['zero-length', Buffer.alloc(0), /empty image/],
  ['text file', Buffer.from('name,identity\nimg1.jpg,someone\n'), /^unsupported format/],
  ['good bbt2', good2, null],
];

describe('bad input', () => {
  const fx = serverWithClient();

  it('RPC: each bad image gets its error, the good ones their faces', async () => {
    const res = await fx.client.extract({ images: BATCH.map(([, data]) => ({ data })) });
    assert.equal(res.results.length, BATCH.length);
    res.results.forEach((r, i) => {
      const [label, , error] = BATCH[i];
      if (error) {
        assert.match(r.error?.message ?? '', error, `${label}: ${r.error?.message}`);
        assert.equal(r.faces.length, 0, label);
      } else {
        assert.equal(r.error, undefined, label);
        assert.ok(r.faces.length > 0, label);
      }
    });
    assert.equal(res.results[0].faces.length, 4);
    assert.equal(res.results[5].faces.length, 3);
  });

  it('legacy: [] at each bad position, faces at the good ones', async () => {
    const { status, json } = await postExtract(fx.server.baseUrl, { images: { data: BATCH.map(([, d]) => base64(d)) } });
    assert.equal(status, 200);
    assert.deepEqual(json.map((faces: unknown[]) => faces.length), [4, 0, 0, 0, 0, 3]);
  });

  const invalid: [string, string, RegExp][] = [
    ['malformed JSON', '{"images": {"data": [', /not valid JSON/],
    ['a JSON array', '[]', /must be a JSON object/],
    ['no images', '{"max_size": 640}', /"images"/],
    ['images.data not a list', '{"images": {"data": "abc"}}', /"images.data" must be a list/],
    ['a number in images.data', '{"images": {"data": [12]}}', /images.data\[0\]/],
    ['max_size a string', '{"images": {"data": []}, "max_size": "640"}', /"max_size"/],
    ['max_size negative', '{"images": {"data": []}, "max_size": -1}', /"max_size"/],
    ['max_size fractional', '{"images": {"data": []}, "max_size": 1.5}', /"max_size"/],
    ['image URLs', '{"images": {"urls": ["http://example.com/a.jpg"]}}', /never fetches images from URLs/],
  ];
  for (const [label, body, message] of invalid) {
    it(`legacy: ${label} gets 400 with a JSON error`, async () => {
      const { status, json } = await postExtract(fx.server.baseUrl, body);
      assert.equal(status, 400);
      assert.match(json.error, message);
    });
  }

  it('the server is still up and answering afterwards', async () => {
    const health = await fetch(`${fx.server.baseUrl}/healthz`);
    assert.equal(health.status, 200);
    const res = await fx.client.extract({ images: [{ data: good2 }] });
    assert.equal(res.results[0].faces.length, 3);
    assert.equal(fx.server.process.exitCode, null);
  });
});
