/**
 * Issue 14, section 3: one-thread CPU of the worker's two shrinks per face (the landmark
 * model's antialiased 64x64 gray crop, models/inference/sampling.ts, and the alignment view,
 * halved since round four, server/worker/align.ts) and of the aligned sampling, on a real
 * portrait decoded at max_size 640, median of 31 runs. The crop and the aligned sampling run in C
 * where native/sampling/ is built; each is also timed in JavaScript (what runs where it is not),
 * with the ratio.
 *   node dist/bench/sampling.js
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { faceSamplingStatus, nativeSampling } from '../models/inference/native-sampling.js';
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

const native = nativeSampling() ?? null;
const crop = (sampler: typeof native) => median(() => sampleToTensor(image, resizeAffine(side / 64, side / 64, box[0], box[1]), {
  out: gray, offset: 0, width: 64, height: 64, layout: 'gray', mean: 0, std: 256, antialias: true,
}, sampler));
const view = median(() => alignmentView(image, alignmentMap(points)));
// The recognizer's rotated bilinear sampling of the aligned 112x112 face from the view.
const face = alignmentView(image, alignmentMap(points));
const planes = new Float32Array(3 * 112 * 112);
const aligned = (sampler: typeof native) => median(() => sampleToTensor(face.image, face.map, {
  out: planes, offset: 0, width: 112, height: 112, layout: 'rgb', mean: 127.5, std: 127.5,
}, sampler));
const both = (time: (sampler: typeof native) => number) => {
  const js = time(null);
  if (!native) return `${js.toFixed(3)} ms (${faceSamplingStatus()})`;
  const c = time(native);
  return `${c.toFixed(3)} ms (JavaScript ${js.toFixed(3)}, ${(js / c).toFixed(2)}x)`;
};
console.log(`${image.width}x${image.height}, face ${side.toFixed(0)} px: landmark crop ${both(crop)}, `
  + `alignment view ${view.toFixed(3)} ms, aligned sampling ${both(aligned)} (CPU, median of 31)`);
