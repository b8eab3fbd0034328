/**
 * Issue 14: one-thread CPU of the detector's input graph per photo, before (the reference graph:
 * Resize, Cast, Transpose, Pad, Sub, Mul) and after (models/inference/preprocess.ts), on the
 * bench's photos re-encoded at 640 px as bench.ts makes them, for the default pack's UltraFace
 * (320x240) and SCRFD-500M (640x640 letterbox). Before and after alternate photo by photo in one
 * process, so load from other work falls on both alike; CPU is counted as run-cpu.ts counts it
 * (from the run's own setImmediate to its end: the graph and its float output's way into
 * JavaScript). Also checks that both give the same floats.
 *   node dist/bench/detector-input.js [--rounds 5]
 */
import { parseArgs } from 'node:util';
import ort from 'onnxruntime-node';
import sharp from 'sharp';
import { clampedAspect } from '../models/inference/families/ultraface.js';
import { openSession, type ModelSession } from '../models/inference/onnx/session.js';
import { takeOnnxCpu, threadCpuSeconds } from '../models/inference/onnx/run-cpu.js';
import { ImageToTensor, referenceImageToTensorGraph } from '../models/inference/preprocess.js';
import type { RgbImage } from '../models/inference/types.js';
import { decodeImage } from '../server/pipeline/decode.js';
import { benchPhotos } from './photos.js';

const { values: args } = parseArgs({ options: { rounds: { type: 'string', default: '5' } } });
const ROUNDS = Number(args.rounds);

const images: RgbImage[] = [];
for (const p of benchPhotos()) {
  const jpeg = await sharp(p.data).rotate().resize(640, 640, { fit: 'inside', withoutEnlargement: true }).jpeg({ quality: 90 }).toBuffer();
  images.push((await decodeImage(jpeg, 640)).image);
}

interface Pack {
  name: string;
  mean: number;
  std: number;
  width: number;
  height: number;
  /** Where the image goes in the input (as the family places it). */
  content: (im: RgbImage) => { contentW: number; contentH: number };
}
const packs: Pack[] = [
  { name: 'default (UltraFace 320x240)', mean: 127, std: 128, width: 320, height: 240, content: (im) => clampedAspect(im, 320, 240) },
  {
    name: 'SCRFD-500M (640x640)', mean: 127.5, std: 128, width: 640, height: 640, content: (im) => {
      const s = Math.min(640 / im.width, 640 / im.height);
      return { contentW: Math.min(640, Math.round(im.width * s)), contentH: Math.min(640, Math.round(im.height * s)) };
    },
  },
];

const int64 = (v: number[]) => new ort.Tensor('int64', BigInt64Array.from(v.map(BigInt)), [v.length]);

async function reference(session: ModelSession, im: RgbImage, p: Pack): Promise<ort.Tensor> {
  const { contentW, contentH } = p.content(im);
  const out = await session.run({
    image: new ort.Tensor('uint8', im.data, [1, im.height, im.width, 3]),
    sizes: int64([1, contentH, contentW, 3]),
    pads: int64([0, 0, 0, 0, 0, 0, p.height - contentH, p.width - contentW]),
  });
  return out.tensor;
}

console.log(`detector input graph: ${images.length} photos at 640 px, ${ROUNDS} rounds, one-thread CPU ms per photo`);
console.log('| detector | before | after | photos without a resize | max difference |');
console.log('|---|---|---|---|---|');
for (const p of packs) {
  const before = await openSession(referenceImageToTensorGraph(p.mean, p.std), 'before');
  const after = await ImageToTensor.create(p.mean, p.std);
  let maxDiff = 0;
  let unresized = 0;
  takeOnnxCpu();
  for (let r = 0; r < ROUNDS; r++) {
    for (const im of images) {
      const { contentW, contentH } = p.content(im);
      if (r === 0 && contentW === im.width && contentH === im.height) unresized++;
      const a = (await reference(before, im, p)).data as Float32Array;
      const b = (await after.run(im, contentW, contentH, p.width, p.height)).data as Float32Array;
      if (r === 0) for (let i = 0; i < a.length; i++) maxDiff = Math.max(maxDiff, Math.abs(a[i] - b[i]));
    }
  }
  const cpu = takeOnnxCpu();
  const ms = (label: string) => ((1000 * (cpu[label] ?? NaN)) / (ROUNDS * images.length)).toFixed(2);
  console.log(`| ${p.name} | ${ms('before')} | ${ms('preprocess')} | ${unresized} of ${images.length} | ${maxDiff} |`);
}
if (Number.isNaN(threadCpuSeconds())) console.log('(no per-thread CPU clock here: /proc/thread-self/schedstat is missing)');
