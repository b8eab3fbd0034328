/** The least-squares similarity fit behind face alignment. */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { sampleToRgb } from '../models/inference/sampling.js';
import { ALIGNED_SIZE, ARCFACE_TEMPLATE, alignmentMap, fitSimilarity, inverseAffine } from '../server/worker/align.js';

const apply = ([a, b, tx, ty]: number[], x: number, y: number) => [a * x - b * y + tx, b * x + a * y + ty];

it('recovers a known rotation, scale and translation exactly', () => {
  const truth = [2 * Math.cos(0.3), 2 * Math.sin(0.3), 15, -7];
  const src = [10, 20, 50, 18, 30, 40, 12, 60, 48, 62];
  const dst = src.flatMap((_, i) => (i % 2 ? [] : apply(truth, src[i], src[i + 1])));
  const fit = fitSimilarity(src, dst);
  fit.forEach((v, i) => assert.ok(Math.abs(v - truth[i]) < 1e-9, `param ${i}: ${v} vs ${truth[i]}`));
});

it('the inverse map takes template points back to the source landmarks', () => {
  const src = [200, 100, 260, 104, 230, 140, 205, 170, 255, 172];
  const m = inverseAffine(fitSimilarity(src, ARCFACE_TEMPLATE));
  for (let k = 0; k < 5; k++) {
    const u = ARCFACE_TEMPLATE[2 * k], v = ARCFACE_TEMPLATE[2 * k + 1];
    const x = m[0] * u + m[1] * v + m[2], y = m[3] * u + m[4] * v + m[5];
    // Five noisy points are fitted, not interpolated: within a few pixels.
    assert.ok(Math.hypot(x - src[2 * k], y - src[2 * k + 1]) < 5);
  }
});

it('an image whose landmarks already sit on the template comes out unchanged', () => {
  const width = 112, height = 112;
  const data = new Uint8Array(width * height * 3).map((_, i) => (i * 37) % 251);
  const crop = sampleToRgb({ data, width, height }, alignmentMap(ARCFACE_TEMPLATE), ALIGNED_SIZE, ALIGNED_SIZE);
  assert.deepEqual(crop.data, data);
});

it('refuses degenerate landmarks', () => {
  assert.throws(() => fitSimilarity(new Array(10).fill(5), ARCFACE_TEMPLATE), /degenerate/);
});
