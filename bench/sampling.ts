/**
 * Issue 14, section 3: one-thread CPU of the worker's two shrinks per face (the landmark
 * model's antialiased 64x64 gray crop, models/inference/sampling.ts, and the alignment view,
 * halved since round four, server/worker/align.ts) and of the aligned sampling, on a real
 * portrait decoded at max_size 640, median of 31 runs.
 *   node dist/bench/sampling.js
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { resizeAffine, sampleToTensor } from '../models/inference/sampling.js';
import { decodeImage } from '../server/pipeline/decode.js';
import { alignmentMap, alignmentView } from '../server/worker/align.js';
import { SHARED } from './photos.js';

const { image } = await decodeImage(readFileSync(join(SHARED, 'faces', 'deepface', 'img1.jpg')), 640);
// A face box and its five points as the default pack finds them on this photo (about 250 px).
const box = [170, 200, 420, 500];
const side = 1.1 * (box[2] - box[0] + box[3] - box[1]) / 2;
const points = Float32Array.from([240, 330, 350, 330, 295, 390, 250, 440, 340, 440]);
const gray = new Float32Array(64 * 64);

function median(fn: () => void): number {
  for (let i = 0; i < 5; i++) fn();
  const t: number[] = [];
  for (let i = 0; i < 31; i++) {
    const c = process.cpuUsage();
    fn();
    const d = process.cpuUsage(c);
    t.push((d.user + d.system) / 1000);
  }
  return t.sort((a, b) => a - b)[15];
}

const landmarksCrop = median(() => sampleToTensor(image, resizeAffine(side / 64, side / 64, box[0], box[1]), {
  out: gray, offset: 0, width: 64, height: 64, layout: 'gray', mean: 0, std: 256, antialias: true,
}));
const view = median(() => alignmentView(image, alignmentMap(points)));
// The recognizer's rotated bilinear sampling of the aligned 112x112 face from the view.
const face = alignmentView(image, alignmentMap(points));
const planes = new Float32Array(3 * 112 * 112);
const aligned = median(() => sampleToTensor(face.image, face.map, {
  out: planes, offset: 0, width: 112, height: 112, layout: 'rgb', mean: 127.5, std: 127.5,
}));
console.log(`${image.width}x${image.height}, face ${side.toFixed(0)} px: landmark crop ${landmarksCrop.toFixed(3)} ms, `
  + `alignment view ${view.toFixed(3)} ms, aligned sampling ${aligned.toFixed(3)} ms (CPU, median of 31)`);
