/**
 * The antialiased shrink filters a gray target as one channel (issue 14: a third of the
 * multiply-adds of the landmark crop); it must give the gray of the RGB shrink. The alignment
 * view's 8-bit shrink must give the float shrink's values, rounded.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { resizeAffine, sampleToTensor, shrinkToRgb } from '../models/inference/sampling.js';
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

  it('the 8-bit shrink is the float shrink rounded, value for value', async () => {
    const { image } = await decodeImage(readFace('deepface/img1.jpg'), 640);
    for (const [span, w, h] of [[2.7, 130, 140], [1.6, 200, 180], [4.1, 60, 70]]) {
      const map = resizeAffine(span, span, 100, 130);
      const planes = new Float32Array(3 * w * h);
      sampleToTensor(image, map, { out: planes, offset: 0, width: w, height: h, layout: 'rgb', mean: 0, std: 1, antialias: true });
      const packed = shrinkToRgb(image, map, w, h).data;
      const n = w * h;
      for (let i = 0; i < n; i++) {
        for (let ch = 0; ch < 3; ch++) {
          const want = Math.min(255, Math.max(0, Math.round(planes[ch * n + i])));
          if (packed[3 * i + ch] !== want) assert.fail(`span ${span}: pixel ${i} channel ${ch}: ${packed[3 * i + ch]}, want ${want}`);
        }
      }
    }
  });
});
