/**
 * What the pool sends a worker: an image's bytes and nothing around them. A request's images
 * are views into its body, and a structured clone copies a view's whole buffer, so before the
 * pool compacted them each image of a large request carried the entire request into the worker.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { WorkerPool } from '../server/pool/worker-pool.js';
import { FULL_QUERY } from '../server/worker/faces.js';
import { planDecode } from '../server/pipeline/decode.js';
import { selectModels } from '../models/packs/select.js';
import { readShared } from './helpers/data.js';

const ECHO = new URL('./helpers/echo-worker.js', import.meta.url);

describe('worker messages', () => {
  it('an image that is a view into a larger buffer reaches the worker as its own bytes only, unless it nearly fills it', async () => {
    const jpeg = readShared('faces', 'deepface', 'img1.jpg');
    // A 20 MB "request body" with the image somewhere inside it.
    const body = new Uint8Array(20 << 20);
    body.set(jpeg, 5 << 20);
    const encoded = body.subarray(5 << 20, (5 << 20) + jpeg.length);
    const pixels = body.subarray(1000, 1000 + 3 * 64 * 48);
    const pool = await WorkerPool.start({ models: selectModels({}), open: {} }, 1, { script: ECHO });
    try {
      const sent = await pool.run({ encoded, plan: await planDecode(encoded, 640) }, FULL_QUERY);
      assert.deepEqual([sent.width, sent.height], [jpeg.length, jpeg.length]);
      // The same as a Buffer (how protobuf-es reads the bytes of a Buffer body), whose slice() is a view.
      const asBuffer = Buffer.from(body.buffer).subarray(5 << 20, (5 << 20) + jpeg.length);
      const sentBuffer = await pool.run({ encoded: asBuffer, plan: await planDecode(asBuffer, 640) }, FULL_QUERY);
      assert.deepEqual([sentBuffer.width, sentBuffer.height], [jpeg.length, jpeg.length]);
      const decoded = await pool.run({ data: pixels, width: 64, height: 48 }, FULL_QUERY);
      assert.deepEqual([decoded.width, decoded.height], [pixels.length, pixels.length]);
      // Bytes that own their buffer go as they are.
      const whole = new Uint8Array(jpeg);
      const alone = await pool.run({ encoded: whole, plan: await planDecode(whole, 640) }, FULL_QUERY);
      assert.deepEqual([alone.width, alone.height], [whole.length, whole.length]);
      // A one-image call's body (envelope and fields around the image) goes as it is: copying
      // the image out of it first would cost the main thread the whole image once more.
      const call = new Uint8Array(jpeg.length + 24);
      call.set(jpeg, 17);
      const inCall = call.subarray(17, 17 + jpeg.length);
      const fromCall = await pool.run({ encoded: inCall, plan: await planDecode(inCall, 640) }, FULL_QUERY);
      assert.deepEqual([fromCall.width, fromCall.height], [call.length, jpeg.length]);
    } finally {
      await pool.close();
    }
  });
});
