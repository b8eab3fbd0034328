/**
 * The antialiased shrink filters a gray target as one channel (issue 14: a third of the
 * multiply-adds of the landmark crop); it must give the gray of the RGB shrink.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { resizeAffine, sampleToTensor } from '../models/inference/sampling.js';
import { decodeImage } from '../server/pipeline/decode.js';
import { readFace } from './helpers/data.js';

describe('sampling', () => {
  it('a gray antialiased shrink is the gray of the RGB one', async () => {
    const { image } = await decodeImage(readFace('deepface/img1.jpg'), 640);
    for (const [side, n] of [[303, 64], [90, 64], [640, 112]]) {
      const map = resizeAffine(side / n, side / n, 120, 150);
      const gray = new Float32Array(n * n);
      const rgb = new Float32Array(3 * n * n);
      sampleToTensor(image, map, { out: gray, offset: 0, width: n, height: n, layout: 'gray', mean: 10, std: 256, antialias: true });
      sampleToTensor(image, map, { out: rgb, offset: 0, width: n, height: n, layout: 'rgb', mean: 0, std: 1, antialias: true });
      let worst = 0;
      for (let i = 0; i < n * n; i++) {
        const want = (0.299 * rgb[i] + 0.587 * rgb[n * n + i] + 0.114 * rgb[2 * n * n + i] - 10) / 256;
        worst = Math.max(worst, Math.abs(gray[i] - want));
      }
      // float32 rounding only (measured under 1e-7 on all three).
      assert.ok(worst < 1e-5, `${side} px to ${n}: ${worst}`);
    }
  });
});
