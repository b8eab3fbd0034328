/**
 * The antialiased shrink filters a gray target as one channel (issue 14: a third of the
 * multiply-adds of the landmark crop); it must give the gray of the RGB shrink. The alignment
 * view halves a large face's region (2x2 means) and moves the map with it: sampling the view
 * must read the same places of the image as sampling the image.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { nativeSampling } from '../models/inference/native-sampling.js';
import { halveRgb, resizeAffine, sampleToRgb, sampleToTensor } from '../models/inference/sampling.js';
import type { RgbImage } from '../models/inference/types.js';
import { ALIGNED_SIZE, alignmentView } from '../server/worker/align.js';
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

  it('halving gives the rounded mean of each 2x2 block, leaving out an odd last column and row (in C and in JavaScript)', async () => {
    const { image } = await decodeImage(readFace('deepface/img1.jpg'), 640);
    const [x0, y0, x1, y1] = [101, 57, 302, 240];
    for (const sampler of new Set([nativeSampling() ?? null, null])) checkHalf(image, halveRgb(image, x0, y0, x1, y1, sampler), x0, y0);
  });

  function checkHalf(image: RgbImage, half: RgbImage, x0: number, y0: number) {
    assert.deepEqual([half.width, half.height], [100, 91]);
    const at = (x: number, y: number, ch: number) => image.data[(y * image.width + x) * 3 + ch];
    for (let v = 0; v < half.height; v++) {
      for (let u = 0; u < half.width; u++) {
        for (let ch = 0; ch < 3; ch++) {
          const [x, y] = [x0 + 2 * u, y0 + 2 * v];
          const want = Math.round((at(x, y, ch) + at(x + 1, y, ch) + at(x, y + 1, ch) + at(x + 1, y + 1, ch)) / 4);
          if (half.data[(v * half.width + u) * 3 + ch] !== want) assert.fail(`(${u}, ${v}) channel ${ch}`);
        }
      }
    }
  }

  it('the alignment view of a large face reads the same places as the image', () => {
    // Ramps (red x, green y, modulo 256) survive 2x2 means and bilinear sampling, so the view
    // must give the image's values wherever the ramps do not wrap nearby; a map moved by one
    // image pixel moves them by a level.
    const width = 1000, height = 900;
    const data = new Uint8Array(width * height * 3);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) data.set([x & 255, y & 255, 128], (y * width + x) * 3);
    }
    const image = { data, width, height };
    // Aligned pixels spanning 1.2 (no halving), 2.5 (once) and 5.3 image pixels (twice), rotated,
    // the crop inside the image.
    for (const scale of [1.2, 2.5, 5.3]) {
      const [cos, sin] = [Math.cos(0.3), Math.sin(0.3)];
      const map = [scale * cos, -scale * sin, 200, scale * sin, scale * cos, 100] as Affine;
      const view = alignmentView(image, map);
      const span = Math.sqrt(Math.abs(view.map[0] * view.map[4] - view.map[1] * view.map[3]));
      assert.ok(span <= 1.5 && span > 0.75, `${scale}: span ${span}`);
      assert.equal(view.image === image, scale <= 1.5);
      const n = ALIGNED_SIZE, plane = n * n;
      const direct = new Float32Array(3 * plane);
      const viewed = new Float32Array(3 * plane);
      sampleToTensor(image, map, { out: direct, offset: 0, width: n, height: n, layout: 'rgb', mean: 0, std: 1 });
      sampleToTensor(view.image, view.map, { out: viewed, offset: 0, width: n, height: n, layout: 'rgb', mean: 0, std: 1 });
      let worst = 0;
      let compared = 0;
      for (let i = 0; i < 2 * plane; i++) {
        // Red is x, green is y: leave out the places near a wrap of that coordinate.
        const [u, v] = [i % n, Math.floor(i / n) % n];
        const at = i < plane ? map[0] * u + map[1] * v + map[2] : map[3] * u + map[4] * v + map[5];
        const m = ((at % 256) + 256) % 256;
        if (m < 12 || m > 243) continue;
        worst = Math.max(worst, Math.abs(direct[i] - viewed[i]));
        compared++;
      }
      assert.ok(compared > plane, `${scale}: ${compared} values compared`);
      // Measured 0 (no halving) and 0.5 (the halvings' rounding); with the halved map's offset
      // left out (half a halved pixel), 1.0.
      assert.ok(worst <= 0.6, `${scale}: ${worst} levels apart`);
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
