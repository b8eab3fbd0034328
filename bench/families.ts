/**
 * `npm run bench:families`: accuracy and speed of every model family on the shared photos, one
 * thread, in this process (no server): the table the README quotes.
 *   detectors: agreed face counts on 7 photos; verification AUC on pairs.csv with MobileFaceNet-128
 *     behind them; mean detection time per photo at max_size 640; ratio to the default pack's.
 *   recognizers: AUC behind SCRFD-2.5G; mean embedding time per face; ratio to the default's.
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { PROJECT_ROOT } from '../models/packs/paths.js';
import { DEFAULT_PACK, packModels } from '../models/packs/catalog.js';
import type { Detector, Landmarker, ModelFile, Recognizer, RgbImage } from '../models/inference/types.js';
import { loadDetector, loadLandmarker, loadRecognizer } from '../models/inference/zoo.js';
import { IDENTITY } from '../models/inference/sampling.js';
import { decodeImage } from '../server/pipeline/decode.js';
import { findFaces, FULL_QUERY } from '../server/worker/faces.js';

const SHARED = resolve(PROJECT_ROOT, '..', 'shared');
const file = (...p: string[]): ModelFile => ({ path: join(SHARED, 'models', ...p), pack: 'custom' });
const [defaultDetector] = packModels(DEFAULT_PACK, 'detector');
const [defaultLandmarks] = packModels(DEFAULT_PACK, 'landmarks');
const [defaultRecognizer] = packModels(DEFAULT_PACK, 'recognizer');

const COUNTS: [string, number][] = [
  ['face-api.js/examples/images/bbt1.jpg', 4], ['face-api.js/examples/images/bbt2.jpg', 3],
  ['face-api.js/examples/images/bbt3.jpg', 5], ['face-api.js/examples/images/bbt4.jpg', 6],
  ['face-api.js/examples/images/bbt5.jpg', 5], ['face-api.js/test/images/faces.jpg', 6],
  ['face-api.js/test/images/white.png', 0],
];

const csv = readFileSync(join(SHARED, 'faces', 'deepface', 'pairs.csv'), 'utf8').trim().split('\n').slice(1).map((l) => l.split(','));
const pairFiles = [...new Set(csv.flatMap(([a, b]) => [a, b]))];

async function decodeAll(rels: string[]): Promise<Map<string, RgbImage>> {
  const out = new Map<string, RgbImage>();
  for (const r of rels) out.set(r, (await decodeImage(readFileSync(join(SHARED, 'faces', r)), 640)).image);
  return out;
}

function auc(scores: number[], same: boolean[]): number {
  const pos = scores.filter((_, i) => same[i]);
  const neg = scores.filter((_, i) => !same[i]);
  let wins = 0;
  for (const p of pos) for (const n of neg) wins += p > n ? 1 : p === n ? 0.5 : 0;
  return wins / (pos.length * neg.length);
}

async function verificationAuc(detector: Detector, recognizer: Recognizer, landmarker: Landmarker | undefined,
  photos: Map<string, RgbImage>): Promise<number> {
  const emb = new Map<string, Float32Array>();
  for (const f of pairFiles) {
    const faces = await findFaces({ detector, recognizer, landmarker, attributes: [] }, photos.get(`deepface/${f}`)!, FULL_QUERY);
    const area = (b: number[]) => (b[2] - b[0]) * (b[3] - b[1]);
    const largest = faces.sort((a, b) => area(b.box) - area(a.box))[0];
    emb.set(f, largest?.embedding ?? new Float32Array(recognizer.description.embeddingSize));
  }
  const dot = (a: Float32Array, b: Float32Array) => a.reduce((s, v, i) => s + v * b[i], 0);
  return auc(csv.map(([a, b]) => dot(emb.get(a)!, emb.get(b)!)), csv.map(([, , s]) => s === '1'));
}

async function meanMs(n: number, fn: () => Promise<unknown>): Promise<number> {
  await fn();
  const t = performance.now();
  for (let i = 0; i < n; i++) await fn();
  return (performance.now() - t) / n;
}

const counted = await decodeAll(COUNTS.map(([f]) => f));
const pairs = await decodeAll(pairFiles.map((f) => `deepface/${f}`));
const landmarker = await loadLandmarker(defaultLandmarks);
const mfn = await loadRecognizer(file('recognition', 'mobilefacenet_128d.onnx'));

console.log('| detector | family | counts right (of 7) | AUC with MobileFaceNet-128 | ms per photo (640) | x default |');
console.log('|---|---|---|---|---|---|');
const detectors: [string, ModelFile][] = [
  ['default pack fr_detect (RFB-320)', defaultDetector],
  ['SCRFD-500M', file('scrfd', 'det_500m.onnx')], ['SCRFD-2.5G', file('scrfd', 'det_2.5g.onnx')],
  ['SCRFD-500M batched', file('scrfd', 'scrfd_500m_bnkps_batched.onnx')],
  ['YuNet-s', file('yunet', 'yunet_s_dynamic.onnx')], ['YuNet-n', file('yunet', 'yunet_n_dynamic.onnx')],
  ['RetinaFace MNet-0.25', file('retinaface', 'retinaface_mnet025_dynamic.onnx')],
  ['UltraFace RFB-320', file('ultraface', 'version-RFB-320.onnx')], ['UltraFace RFB-640', file('ultraface', 'version-RFB-640.onnx')],
];
let baseline = 0;
for (const [label, f] of detectors) {
  const d = await loadDetector(f);
  let right = 0;
  for (const [photo, n] of COUNTS) if ((await d.detect(counted.get(photo)!)).length === n) right++;
  const images = [...pairs.values()].slice(0, 20);
  const ms = await meanMs(3, async () => { for (const im of images) await d.detect(im); }) / images.length;
  baseline ||= ms;
  const a = await verificationAuc(d, mfn, d.givesKeypoints ? undefined : landmarker, pairs);
  console.log(`| ${label} | ${d.description.family} | ${right} | ${a.toFixed(4)} | ${ms.toFixed(1)} | ${(ms / baseline).toFixed(2)} |`);
}

console.log('\n| recognizer | dims | AUC behind SCRFD-2.5G | ms per face | x default |');
console.log('|---|---|---|---|---|');
const scrfd = await loadDetector(file('scrfd', 'det_2.5g.onnx'));
const crop = { data: new Uint8Array(112 * 112 * 3).map((_, i) => (i * 31) % 256), width: 112, height: 112 };
let recBaseline = 0;
for (const [label, f] of [
  ['default pack fr_feature', defaultRecognizer], ['MobileFaceNet-128', file('recognition', 'mobilefacenet_128d.onnx')],
  ['MobileFaceNet-128 (Paddle)', file('recognition', 'mobilefacenet_128d_paddle.onnx')],
] as [string, ModelFile][]) {
  const r = await loadRecognizer(f);
  const ms = await meanMs(50, () => r.embed([{ image: crop, map: IDENTITY }]));
  recBaseline ||= ms;
  const a = await verificationAuc(scrfd, r, undefined, pairs);
  console.log(`| ${label} | ${r.description.embeddingSize} | ${a.toFixed(4)} | ${ms.toFixed(2)} | ${(ms / recBaseline).toFixed(2)} |`);
}
