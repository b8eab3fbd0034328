/**
 * The antialiased shrink filters a gray target as one channel (issue 14: a third of the
 * multiply-adds of the landmark crop); it must give the gray of the RGB shrink. The alignment
 * view's 8-bit shrink must give the float shrink's values, rounded.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { resizeAffine, sampleToRgb, sampleToTensor, shrinkToRgb } from '../models/inference/sampling.js';
import type { Affine } from '../models/inference/sampling.js';
import { decodeImage } from '../server/pipeline/decode.js';
import { readFace } from './helpers/data.js';

describe('sampling', () => {
  it('a gray antialiased shrink is the gray of the RGB one', async () => {
    const { image } = await decodeImage(readFace('deepface/img1.jpg'), 640);
    // The last two reach past the image's left and top edges (the gray pass converts only the
    // source columns inside it).
    for (const [side, n, left, top] of [[303, 64, 120, 150], [90, 64, 120, 150], [640, 112, 120, 150], [300, 64, -60, -40], [200, 64, 500, -90]]) {
      const map = resizeAffine(side / n, side / n, left, top);
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

  it('rotated sampling writes every layout from the same bilinear values, black beyond the image', async () => {
    const { image } = await decodeImage(readFace('deepface/img1.jpg'), 640);
    // An aligned face well inside the photo, and one hanging over its top-left corner.
    const maps: Affine[] = [[2.1, -0.4, 200, 0.4, 2.1, 120], [1.3, 0.5, -40, -0.5, 1.3, -20]];
    const n = 112, plane = n * n;
    for (const map of maps) {
      const rgb = new Float32Array(3 * plane);
      const bgr = new Float32Array(3 * plane);
      const gray = new Float32Array(plane);
      sampleToTensor(image, map, { out: rgb, offset: 0, width: n, height: n, layout: 'rgb', mean: 0, std: 1 });
      sampleToTensor(image, map, { out: bgr, offset: 0, width: n, height: n, layout: 'bgr', mean: 127.5, std: 127.5 });
      sampleToTensor(image, map, { out: gray, offset: 0, width: n, height: n, layout: 'gray', mean: 0, std: 255 });
      const packed = sampleToRgb(image, map, n, n).data;
      for (let i = 0; i < plane; i++) {
        for (let ch = 0; ch < 3; ch++) {
          // sampleToRgb rounds the same bilinear sum (through the border-safe path everywhere).
          const v = rgb[ch * plane + i];
          if (Math.abs(Math.round(v) - packed[3 * i + ch]) > (Math.abs(v - Math.round(v)) > 0.499 ? 1 : 0)) {
            assert.fail(`pixel ${i} channel ${ch}: rgb ${v}, packed ${packed[3 * i + ch]}`);
          }
          const swapped = (bgr[(2 - ch) * plane + i] * 127.5) + 127.5;
          assert.ok(Math.abs(swapped - v) < 1e-3, `bgr pixel ${i} channel ${ch}: ${swapped} against ${v}`);
        }
        const want = (0.299 * rgb[i] + 0.587 * rgb[plane + i] + 0.114 * rgb[2 * plane + i]) / 255;
        assert.ok(Math.abs(gray[i] - want) < 1e-6, `gray pixel ${i}: ${gray[i]} against ${want}`);
      }
      if (map[2] < 0) assert.equal(rgb[0] + rgb[plane] + rgb[2 * plane], 0, 'a pixel beyond the image reads black');
    }
  });
});
