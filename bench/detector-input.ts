/**
 * Issue 14: one-thread CPU of the detector's input preparation per photo, on the bench's photos
 * re-encoded at 640 px as bench.ts makes them, for the default pack's UltraFace (320x240) and
 * SCRFD-500M (640x640 letterbox):
 * - before: the input graph as it was (Resize, Cast, Transpose, Pad, Sub, Mul: its own session,
 *   its floats back into JavaScript), then the detector;
 * - after: models/inference/preprocess.ts's DetectorInput: the normalisation fused into the
 *   detector's graph, a Resize graph only where the image is not at the content size already;
 * - raw: the plain detector fed the ready floats, as bench/raw-worker.ts runs it.
 * Then YuNet-s and RetinaFace (../shared/models), whose input JavaScript made before (sampling.ts).
 * "input" is the total minus raw: what preparing the input costs, wherever it runs. Before,
 * after and raw alternate photo by photo in one process, so load from other work falls on all
 * alike (their order changes photo by photo). CPU: this thread's, around each whole step (the
 * outputs' way into JavaScript and a padding copy included); the two graph columns as run-cpu.ts
 * counts them. "outputs differ" counts the outputs (photo by photo) where after's are not
 * before's to the bit: before resizes with antialiasing, as the graph did until round three, and
 * after with the plain linear Resize up to a 3x shrink (issue 14, round three), so every photo
 * that is shrunk differs; where neither resizes (YuNet, RetinaFace, most photos for SCRFD), none
 * may (test/detector-input-graph.test.ts holds the fused input to the bit with the same resize).
 *   node dist/bench/detector-input.js [--rounds 5]
 */
import { parseArgs } from 'node:util';
import ort from 'onnxruntime-node';
import { clampedAspect } from '../models/inference/families/ultraface.js';
import { dynamicInputSize } from '../models/inference/families/detector-input.js';
import { resizeAffine, sampleToTensor } from '../models/inference/sampling.js';
import { openModelFile, openSession, type ModelSession } from '../models/inference/onnx/session.js';
import { takeOnnxCpu, threadCpuSeconds } from '../models/inference/onnx/run-cpu.js';
import { DetectorInput, referenceImageToTensorGraph } from '../models/inference/preprocess.js';
import { DEFAULT_PACK, packModels } from '../models/packs/catalog.js';
import type { RgbImage } from '../models/inference/types.js';
import { decodeImage } from '../server/pipeline/decode.js';
import { benchPhotosAt, SHARED } from './photos.js';
import { join } from 'node:path';

const { values: args } = parseArgs({ options: { rounds: { type: 'string', default: '5' } } });
const ROUNDS = Number(args.rounds);

const images: RgbImage[] = [];
for (const p of await benchPhotosAt(640)) images.push((await decodeImage(p.data, 640)).image);

interface Pack {
  name: string;
  detector: string;
  mean: number;
  std: number;
  width: number;
  height: number;
  /** Where the image goes in the input (as the family places it). */
  content: (im: RgbImage) => { contentW: number; contentH: number };
}
const packs: Pack[] = [
  { name: 'default (UltraFace 320x240)', detector: packModels(DEFAULT_PACK, 'detector')[0].path, mean: 127, std: 128, width: 320, height: 240, content: (im) => clampedAspect(im, 320, 240) },
  {
    name: 'SCRFD-500M (640x640)', detector: join(SHARED, 'models', 'scrfd', 'det_500m.onnx'), mean: 127.5, std: 128, width: 640, height: 640, content: (im) => {
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

console.log(`detector input: ${images.length} photos at 640 px, ${ROUNDS} rounds, one-thread CPU ms per photo`);
console.log('| detector | before: input graph | before: total | after: resize graph | after: total | raw detector | input before | input after | photos without a resize | outputs differ |');
console.log('|---|---|---|---|---|---|---|---|---|---|');
for (const p of packs) {
  const beforeGraph = await openSession(referenceImageToTensorGraph(p.mean, p.std, true), 'before-input');
  // The raw step's ready floats, made outside its count, under a label of their own.
  const readyGraph = await openSession(referenceImageToTensorGraph(p.mean, p.std, true), 'ready');
  const beforeDetector = (await openModelFile(p.detector, {}, 'before-detector')).session;
  const raw = (await openModelFile(p.detector, {}, 'raw')).session;
  const after = await DetectorInput.create((await openModelFile(p.detector, {}, 'after-detector')).session, p.mean, p.std);
  if (!after.isFused) throw new Error(`${p.name}: the input was not fused`);
  let differ = 0;
  let unresized = 0;
  const spent = { before: 0, after: 0, raw: 0 };
  /** This thread's CPU for `fn`, the JavaScript around the runs (a padding copy) included. */
  const timed = async <T>(key: keyof typeof spent, fn: () => Promise<T>): Promise<T> => {
    const start = threadCpuSeconds();
    const out = await fn();
    spent[key] += threadCpuSeconds() - start;
    return out;
  };
  takeOnnxCpu();
  for (let r = 0; r < ROUNDS; r++) {
    for (const [i, im] of images.entries()) {
      const { contentW, contentH } = p.content(im);
      if (r === 0 && contentW === im.width && contentH === im.height) unresized++;
      let tensor: ort.Tensor | undefined;
      let want: ort.InferenceSession.ReturnType | undefined;
      let got: ort.InferenceSession.ReturnType | undefined;
      const steps = [
        async () => {
          want = await timed('before', async () => {
            tensor = await reference(beforeGraph, im, p);
            return beforeDetector.run({ [beforeDetector.inputNames[0]]: tensor });
          });
        },
        async () => { got = await timed('after', () => after.run(im, contentW, contentH, p.width, p.height)); },
        async () => {
          const ready = await reference(readyGraph, im, p);
          await timed('raw', () => raw.run({ [raw.inputNames[0]]: ready }));
        },
      ];
      // A different order each photo, so neither caches nor the collector favour one.
      for (let k = 0; k < 3; k++) await steps[(i + r + k) % 3]();
      if (r === 0) {
        for (const name of beforeDetector.outputNames) {
          const a = want![name].data as Float32Array;
          const b = got![name].data as Float32Array;
          if (a.some((v, j) => !Object.is(v, b[j]))) differ++;
        }
      }
    }
  }
  const cpu = takeOnnxCpu();
  const n = ROUNDS * images.length;
  const ms = (seconds: number) => (1000 * seconds) / n;
  const cells = [
    ms(cpu['before-input'] ?? 0), ms(spent.before), ms(cpu.preprocess ?? 0), ms(spent.after), ms(spent.raw),
    ms(spent.before - spent.raw), ms(spent.after - spent.raw),
  ];
  console.log(`| ${p.name} | ${cells.map((c) => c.toFixed(2)).join(' | ')} | ${unresized} of ${images.length} | ${differ} |`);
}

// YuNet and RetinaFace: dynamic input (the image's size rounded up to a multiple of 32, BGR);
// before, sampling.ts's copy in JavaScript; after, fused at scale 1 (every photo here).
console.log('');
console.log('| detector | before: total (JavaScript input + detector) | after: total | raw detector | input before | input after | outputs differ |');
console.log('|---|---|---|---|---|---|---|');
const dynamic: [string, string, number | readonly number[]][] = [
  ['YuNet-s', join(SHARED, 'models', 'yunet', 'yunet_s_dynamic.onnx'), 0],
  ['RetinaFace MobileNet-0.25', join(SHARED, 'models', 'retinaface', 'retinaface_mnet025_dynamic.onnx'), [123, 117, 104]],
];
for (const [name, path, mean] of dynamic) {
  const plain = (await openModelFile(path, {}, 'plain')).session;
  const raw = (await openModelFile(path, {}, 'raw')).session;
  const after = await DetectorInput.create((await openModelFile(path, {}, 'after-detector')).session, mean, 1, 'bgr');
  if (!after.isFused) throw new Error(`${name}: the input was not fused`);
  const spent = { before: 0, after: 0, raw: 0 };
  let differ = 0;
  const floats = (im: RgbImage, w: number, h: number) => {
    const out = new Float32Array(3 * w * h);
    sampleToTensor(im, resizeAffine(1, 1), { out, offset: 0, width: w, height: h, layout: 'bgr', mean, std: 1, antialias: true });
    return new ort.Tensor('float32', out, [1, 3, h, w]);
  };
  for (let r = 0; r < ROUNDS; r++) {
    for (const [i, im] of images.entries()) {
      const { width: w, height: h } = dynamicInputSize(im, 32);
      let want: ort.InferenceSession.ReturnType | undefined;
      let got: ort.InferenceSession.ReturnType | undefined;
      const steps = [
        async () => {
          const start = threadCpuSeconds();
          want = await plain.run({ [plain.inputNames[0]]: floats(im, w, h) });
          spent.before += threadCpuSeconds() - start;
        },
        async () => {
          const start = threadCpuSeconds();
          got = await after.run(im, im.width, im.height, w, h);
          spent.after += threadCpuSeconds() - start;
        },
        async () => {
          const ready = floats(im, w, h);
          const start = threadCpuSeconds();
          await raw.run({ [raw.inputNames[0]]: ready });
          spent.raw += threadCpuSeconds() - start;
        },
      ];
      for (let k = 0; k < 3; k++) await steps[(i + r + k) % 3]();
      if (r === 0) {
        for (const o of plain.outputNames) {
          const a = want![o].data as Float32Array;
          const b = got![o].data as Float32Array;
          if (a.some((v, j) => !Object.is(v, b[j]))) differ++;
        }
      }
    }
  }
  const ms = (seconds: number) => (1000 * seconds) / (ROUNDS * images.length);
  const cells = [ms(spent.before), ms(spent.after), ms(spent.raw), ms(spent.before - spent.raw), ms(spent.after - spent.raw)];
  console.log(`| ${name} | ${cells.map((c) => c.toFixed(2)).join(' | ')} | ${differ} |`);
}
if (Number.isNaN(threadCpuSeconds())) console.log('(no per-thread CPU clock here: native/clock/ is not built and /proc/thread-self/schedstat is missing)');
