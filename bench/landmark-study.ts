/**
 * Issue 13, part 1 (research harness, not shipped): how the default pack (RFB-320 + 68-point
 * landmarks + 512-d embedder) can reach the keypoint detectors' verification AUC.
 *   node dist/bench/landmark-study.js [--boxes prod|letterbox|clamp|tta|ttalb|ttaclamp|oracle]
 *     [--only REGEX] [--layout] [--counts] [--timing] [--sweep] [--sweep2] [--repeat N]
 *     [--flop] [--max N]          (env SPAN/CX/CY: refinement layout; GAP=1; DUMP=1)
 * Results and conclusions: bench/landmark-study-results.md.
 * Every variant turns the largest detected face of each photo (decoded at max_size 640, as the
 * server does) into five points, aligns and embeds with fr_feature, and reports:
 *   AUC / best accuracy / threshold on deepface pairs.csv, master.csv and the face-api.js
 *   identities (all same/different pairs); alignment jitter against SCRFD-2.5G's keypoints
 *   (reference only: in 112-px template pixels, bias removed); landmark-step ms per photo.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { DEFAULT_PACK, packModels } from '../models/packs/catalog.js';
import type { BoxArray, Detection, Detector, ModelFile, Recognizer, RgbImage } from '../models/inference/types.js';
import { loadDetector, loadRecognizer } from '../models/inference/zoo.js';
import { openModelFile as openModel } from '../models/inference/onnx/session.js';
import { decodeImage } from '../server/pipeline/decode.js';
import { alignmentMap, ARCFACE_TEMPLATE, fitSimilarity } from '../server/worker/align.js';
import { l2Normalise } from '../server/worker/faces.js';
import { auc, bestAccuracy } from '../test/helpers/roc.js';
import { SHARED } from './photos.js';
import {
  boxCrop, cropFromPoints, FIVE_RULES, fivePoints, layoutIn, Lm68, PRODUCTION, squareCrop,
  type Crop, type LandmarkOptions,
} from './lm68-variants.js';
import { iou, UltraFaceStudy } from './ultraface-variants.js';

const { values: args } = parseArgs({
  options: {
    only: { type: 'string' },
    layout: { type: 'boolean', default: false },
    counts: { type: 'boolean', default: false },
    repeat: { type: 'string', default: '1' },
    sweep: { type: 'boolean', default: false },
    sweep2: { type: 'boolean', default: false },
    timing: { type: 'boolean', default: false },
    // Box source for the landmark variants: prod (RFB-320 as today), letterbox, clamp (faces
    // never widened: ultraface-variants.ts), tta / ttalb / ttaclamp (mirror TTA on stretch /
    // letterbox / clamp), oracle (diagnostic: the RFB-320 box on SCRFD's face).
    boxes: { type: 'string', default: 'prod' },
    // Robustness: every photo mirrored (sharp flop) before anything; another max_size.
    flop: { type: 'boolean', default: false },
    max: { type: 'string', default: '640' },
  },
});

const shared = (...p: string[]): ModelFile => ({ path: join(SHARED, 'models', ...p), pack: 'custom' });
const rows = (rel: string) => readFileSync(join(SHARED, 'faces', rel), 'utf8').trim().split(/\r?\n/).slice(1).map((l) => l.split(','));

interface PairSet { name: string; pairs: [string, string, boolean][] }
const pairsCsv: PairSet = { name: 'pairs', pairs: rows('deepface/pairs.csv').map(([a, b, s]) => [`deepface/${a}`, `deepface/${b}`, s === '1']) };
const masterCsv: PairSet = { name: 'master', pairs: rows('deepface/master.csv').map(([a, b, s]) => [`deepface/${a}`, `deepface/${b}`, s === 'Yes']) };
const ids = rows('face-api.js/identities.csv').map(([f, id]) => [`face-api.js/${f}`, id] as const);
const idPairs: PairSet = { name: 'ids', pairs: [] };
for (let i = 0; i < ids.length; i++) for (let j = i + 1; j < ids.length; j++) idPairs.pairs.push([ids[i][0], ids[j][0], ids[i][1] === ids[j][1]]);
const SETS = [pairsCsv, masterCsv, idPairs];
const photos = [...new Set(SETS.flatMap((s) => s.pairs.flatMap(([a, b]) => [a, b])))].sort();

const images = new Map<string, RgbImage>();
for (const p of photos) {
  let data: Uint8Array = readFileSync(join(SHARED, 'faces', p));
  if (args.flop) data = await sharp(data).rotate().flop().png().toBuffer();
  images.set(p, (await decodeImage(data, Number(args.max))).image);
}

const [detFile] = packModels(DEFAULT_PACK, 'detector');
const [lmFile] = packModels(DEFAULT_PACK, 'landmarks');
const [recFile] = packModels(DEFAULT_PACK, 'recognizer');
const rfb320 = await loadDetector(detFile);
const recognizer: Recognizer = await loadRecognizer(recFile);
const lm = new Lm68((await openModel(lmFile.path)).session);
const study = await UltraFaceStudy.open(detFile.path);

const area = (b: BoxArray) => (b[2] - b[0]) * (b[3] - b[1]);
async function largest(d: Detector, im: RgbImage): Promise<Detection | undefined> {
  return (await d.detect(im)).sort((a, b) => area(b.box) - area(a.box))[0];
}

// Reference keypoints (SCRFD-2.5G, ../shared/models: never shipped, only to see the ceiling and
// measure alignment jitter) and the production detector's largest box, per photo.
const scrfd = await loadDetector(shared('scrfd', 'det_2.5g.onnx'));
const rfb640 = await loadDetector(shared('ultraface', 'version-RFB-640.onnx'));
const ref = new Map<string, Detection>();
const box320 = new Map<string, BoxArray>();
const box640 = new Map<string, BoxArray>();
// Diagnostic only: the RFB-320 box that overlaps SCRFD's largest face most (oracle choice of face).
const box320Oracle = new Map<string, BoxArray>();
const detMs: number[] = [];
for (const p of photos) {
  const im = images.get(p)!;
  const r = await largest(scrfd, im);
  if (r) ref.set(p, r);
  const t = performance.now();
  const detect = {
    prod: () => rfb320.detect(im), letterbox: () => study.detectLetterbox(im), tta: () => study.detectMirrorTta(im),
    clamp: () => study.detectClamped(im), ttaclamp: () => study.detectMirrorTta(im, 'clamp'),
    ttalb: () => study.detectMirrorTta(im, 'letterbox'), oracle: () => rfb320.detect(im),
  }[args.boxes as 'prod'];
  const d = (await detect()).sort((a, b) => area(b.box) - area(a.box))[0];
  detMs.push(performance.now() - t);
  if (d) box320.set(p, d.box);
  if (d) {
    const all = await rfb320.detect(im);
    const o = r ? all.sort((x, y) => iou(y.box, r.box) - iou(x.box, r.box))[0] : d;
    box320Oracle.set(p, o.box);
    if (args.boxes === 'oracle') box320.set(p, o.box);
  }
  const d6 = await largest(rfb640, im);
  if (d6) box640.set(p, d6.box);
}
const missing = photos.filter((p) => !box320.has(p));
for (const p of photos.filter((q) => !ref.has(q)).slice(0, 3)) console.log(`# ${p}: ${images.get(p)!.width}x${images.get(p)!.height}`);
console.log(`# ${photos.length} photos (${images.get(photos[0])!.width}x${images.get(photos[0])!.height} first); RFB-320 finds no face in ${missing.length}: ${missing.join(' ')}; SCRFD misses ${photos.filter((p) => !ref.has(p)).length}`);

/** A variant: the five points of the face in `box` of `image` (plus the photo key, for detector variants). */
type Variant = (image: RgbImage, box: BoxArray, photo: string) => Promise<Float32Array | undefined>;

async function embed(image: RgbImage, five: Float32Array): Promise<Float32Array> {
  const [e] = await recognizer.embed([{ image, map: alignmentMap(five) }]);
  return l2Normalise(e);
}

/**
 * Alignment jitter against the reference: the variant's five points mapped through the
 * reference's alignment into 112-px template space; the mean offset per point over all photos
 * is the bias (harmless, constant), the RMS of what remains is the jitter that hurts.
 */
function jitter(fives: Map<string, Float32Array>): { bias: number; rms: number; wrong: number } {
  const offs: number[][] = [];
  let wrong = 0;
  const perPhoto: [string, number][] = [];
  for (const [p, five] of fives) {
    const r = ref.get(p);
    if (!r?.keypoints) continue;
    const [a, b] = fitSimilarity(r.keypoints, ARCFACE_TEMPLATE);
    const k5 = r.keypoints;
    const o: number[] = [];
    for (let k = 0; k < 5; k++) {
      const dx = five[2 * k] - k5[2 * k], dy = five[2 * k + 1] - k5[2 * k + 1];
      o.push(a * dx - b * dy, b * dx + a * dy);
    }
    // More than 20 template pixels off: another face (img41's false positive), counted apart.
    if (Math.sqrt(o.reduce((t, x) => t + x * x, 0) / 5) > 20) { wrong++; if (process.env.DUMP) console.log(`wrong face: ${p}`); continue; }
    offs.push(o);
    if (process.env.DUMP) perPhoto.push([p, Math.sqrt(o.reduce((t, x) => t + x * x, 0) / 5)]);
  }
  if (process.env.DUMP) console.log(perPhoto.sort((x, y) => y[1] - x[1]).slice(0, 8).map(([p, e]) => `${p} ${e.toFixed(1)}`).join('; '));
  const mean = Array.from({ length: 10 }, (_, i) => offs.reduce((s, o) => s + o[i], 0) / offs.length);
  let bias = 0;
  for (let k = 0; k < 5; k++) bias += Math.hypot(mean[2 * k], mean[2 * k + 1]) / 5;
  let ss = 0;
  for (const o of offs) for (let i = 0; i < 10; i++) ss += (o[i] - mean[i]) ** 2;
  return { bias, rms: Math.sqrt(ss / (offs.length * 5)), wrong };
}

interface Result { name: string; sets: { auc: number; acc: number; thr: number; dprime: number; maxDiff: number; minSame: number }[]; jit: { bias: number; rms: number; wrong: number }; ms: number; runs: number }

/** Separation of same- and different-person scores: (mean same - mean different) / pooled sd. */
function dPrime(scores: number[], same: boolean[]): number {
  const m = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
  const v = (xs: number[]) => { const mu = m(xs); return xs.reduce((s, x) => s + (x - mu) ** 2, 0) / xs.length; };
  const a = scores.filter((_, i) => same[i]), b = scores.filter((_, i) => !same[i]);
  return (m(a) - m(b)) / Math.sqrt((v(a) + v(b)) / 2);
}

async function evaluate(name: string, v: Variant, boxes = box320): Promise<Result> {
  const fives = new Map<string, Float32Array>();
  const emb = new Map<string, Float32Array>();
  let ms = 0;
  const runs0 = lm.runs;
  const repeat = Number(args.repeat);
  for (const p of photos) {
    const im = images.get(p)!;
    const box = boxes.get(p);
    if (!box) continue;
    let five: Float32Array | undefined;
    const t = performance.now();
    for (let i = 0; i < repeat; i++) five = await v(im, box, p);
    ms += (performance.now() - t) / repeat;
    if (!five) continue;
    fives.set(p, five);
    emb.set(p, await embed(im, five));
  }
  const zero = new Float32Array(recognizer.description.embeddingSize);
  const sets = SETS.map((s) => {
    const scores = s.pairs.map(([a, b]) => {
      const ea = emb.get(a) ?? zero, eb = emb.get(b) ?? zero;
      let d = 0;
      for (let i = 0; i < ea.length; i++) d += ea[i] * eb[i];
      return d;
    });
    const same = s.pairs.map(([, , x]) => x);
    const best = bestAccuracy(scores, same);
    const maxDiff = Math.max(...scores.filter((_, i) => !same[i]));
    const minSame = Math.min(...scores.filter((_, i) => same[i]));
    return { auc: auc(scores, same), acc: best.accuracy, thr: best.threshold, dprime: dPrime(scores, same), maxDiff, minSame };
  });
  const r = { name, sets, jit: jitter(fives), ms: ms / fives.size, runs: (lm.runs - runs0) / repeat / fives.size };
  const f = (x: number, d = 4) => x.toFixed(d);
  console.log(`| ${name} | ${sets.map((s) => `${f(s.auc)} | ${f(100 * s.acc, 1)}% @ ${f(s.thr, 3)} | ${f(s.dprime, 2)}`).join(' | ')} | ${f(r.jit.rms, 2)}${r.jit.wrong ? ` (+${r.jit.wrong} wrong face)` : ''} | ${f(r.jit.bias, 2)} | ${f(r.ms, 2)} | ${f(r.runs, 1)} |`);
  if (process.env.GAP) console.log(`|   gaps (max different, min same): ${sets.map((s) => `${f(s.maxDiff, 3)}, ${f(s.minSame, 3)}`).join(' | ')} |`);
  return r;
}

// ---- Where the 68 points fall in the production crop, and in crops rebuilt from them ---------
function stats(xs: number[]): string {
  const m = xs.reduce((s, x) => s + x, 0) / xs.length;
  const sd = Math.sqrt(xs.reduce((s, x) => s + (x - m) ** 2, 0) / xs.length);
  return `${m.toFixed(3)}±${sd.toFixed(3)}`;
}

async function layoutReport(label: string, cropOf: (im: RgbImage, box: BoxArray, p: string) => Promise<Crop>, o = PRODUCTION): Promise<void> {
  const L: { minX: number[]; maxX: number[]; minY: number[]; maxY: number[]; span: number[]; cx: number[]; cy: number[] } = {
    minX: [], maxX: [], minY: [], maxY: [], span: [], cx: [], cy: [],
  };
  for (const p of photos) {
    const box = box320.get(p);
    if (!box) continue;
    const im = images.get(p)!;
    const crop = await cropOf(im, box, p);
    const l = layoutIn(await lm.points(im, crop, o), crop);
    L.minX.push(l.minX); L.maxX.push(l.maxX); L.minY.push(l.minY); L.maxY.push(l.maxY);
    L.span.push(Math.max(l.maxX - l.minX, l.maxY - l.minY)); L.cx.push((l.minX + l.maxX) / 2); L.cy.push((l.minY + l.maxY) / 2);
  }
  console.log(`layout ${label}: x ${stats(L.minX)}..${stats(L.maxX)}  y ${stats(L.minY)}..${stats(L.maxY)}  span ${stats(L.span)}  centre ${stats(L.cx)}, ${stats(L.cy)}`);
}

const first = (o: LandmarkOptions = PRODUCTION) => (im: RgbImage, box: BoxArray) => lm.points(im, squareCrop(box), o);

/** Refinement: `passes` more runs, each on the square crop rebuilt from the previous points. */
function refined(span: number, cx: number, cy: number, passes = 1, o: LandmarkOptions = PRODUCTION,
  start: (im: RgbImage, box: BoxArray) => Promise<Float32Array> = first(o)) {
  return async (im: RgbImage, box: BoxArray) => {
    let pts = await start(im, box);
    for (let i = 0; i < passes; i++) pts = await lm.points(im, cropFromPoints(pts, span, cx, cy), o);
    return pts;
  };
}

if (args.layout) {
  await layoutReport('production square crop (RFB-320 box)', async (_im, box) => squareCrop(box));
  await layoutReport('package crop (box as is)', async (_im, box) => boxCrop(box));
  for (const [sc, dy] of [[1.1, 0], [1.2, 0], [1.1, 0.05], [1.2, 0.05]]) await layoutReport(`square mean x${sc} dy ${dy}`, async (_im, box) => squareCrop(box, sc, 'mean', 0, dy));
  // The self-consistent margin: rebuild the crop from the points with span s, centre (cx, cy),
  // run again and see where the points fall; the model's own layout is the fixed point.
  let span = Number(process.env.SPAN0 ?? 0.8), cx = 0.5, cy = Number(process.env.CY0 ?? 0.5);
  for (let it = 0; it < Number(process.env.ITERS ?? 6); it++) {
    const spans: number[] = [], cxs: number[] = [], cys: number[] = [];
    for (const p of photos) {
      const box = box320.get(p);
      if (!box) continue;
      const im = images.get(p)!;
      const pts = await lm.points(im, squareCrop(box));
      const crop = cropFromPoints(pts, span, cx, cy);
      const l = layoutIn(await lm.points(im, crop), crop);
      spans.push(Math.max(l.maxX - l.minX, l.maxY - l.minY)); cxs.push((l.minX + l.maxX) / 2); cys.push((l.minY + l.maxY) / 2);
    }
    const m = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
    console.log(`fixed point iteration ${it}: crop built with span ${span.toFixed(3)} centre ${cx.toFixed(3)},${cy.toFixed(3)} -> points span ${stats(spans)} centre ${stats(cxs)}, ${stats(cys)}`);
    span = m(spans); cx = m(cxs); cy = m(cys);
  }
}

console.log(`\n# boxes: ${args.boxes}${args.flop ? ', photos mirrored' : ''}, max_size ${args.max}`);
console.log('| variant | pairs AUC | pairs best acc @ cos | pairs d\' | master AUC | master best acc @ cos | master d\' | ids AUC | ids best acc @ cos | ids d\' | jitter px | bias px | landmark ms/photo | lm runs |');
console.log('|---|---|---|---|---|---|---|---|---|---|---|---|---|---|');
const todo: [string, Variant, Map<string, BoxArray>?][] = [];
const add = (name: string, v: Variant, boxes?: Map<string, BoxArray>) => todo.push([name, v, boxes]);
const five = (rule: string, v: (im: RgbImage, box: BoxArray) => Promise<Float32Array>): Variant => async (im, box) => fivePoints(await v(im, box), FIVE_RULES[rule]);

// References (not shippable): SCRFD's own keypoints, the 68-point model behind other boxes.
add('REF SCRFD-2.5G keypoints', async (_im, _b, p) => ref.get(p)?.keypoints);
add('REF 68pt on RFB-640 box (shared model)', five('prod', first()), box640);
add('REF 68pt on SCRFD box', five('prod', first()), new Map([...ref].map(([p, d]) => [p, d.box])));
// Today.
add('production (square mean side, 1 pass)', five('prod', first()));
add('DIAG production on oracle-chosen RFB-320 box', five('prod', first()), box320Oracle);
add('package crop (box as is)', five('prod', (im, box) => lm.points(im, boxCrop(box))));
for (const s of [0.9, 1.1, 1.2]) add(`square mean x${s}`, five('prod', (im, box) => lm.points(im, squareCrop(box, s))));
for (const m of ['max', 'height', 'width'] as const) add(`square ${m}`, five('prod', (im, box) => lm.points(im, squareCrop(box, 1, m))));
for (const dy of [-0.05, 0.05]) add(`square mean, centre dy ${dy}`, five('prod', (im, box) => lm.points(im, squareCrop(box, 1, 'mean', 0, dy))));
add('no antialias', five('prod', first({ ...PRODUCTION, antialias: false })));
add('gray weights swapped', five('prod', first({ ...PRODUCTION, gray: 'swapped' })));
add('half-pixel -0.5', five('prod', first({ ...PRODUCTION, halfPixel: -0.5 })));
add('mirror average', five('prod', first({ ...PRODUCTION, mirror: true })));
for (const rule of Object.keys(FIVE_RULES).filter((r) => r !== 'prod')) add(`5-pt rule ${rule}`, five(rule, first()));

// Refinement from the first pass's points. The span / centre come from --layout (fixed point).
const SPAN = Number(process.env.SPAN ?? 0.8);
const CX = Number(process.env.CX ?? 0.5);
const CY = Number(process.env.CY ?? 0.5);
for (const passes of [1, 2, 3]) add(`refine x${passes} (span ${SPAN}, centre ${CX},${CY})`, five('prod', refined(SPAN, CX, CY, passes)));
add(`refine x1 + mirror on 2nd`, five('prod', refined(SPAN, CX, CY, 1, { ...PRODUCTION, mirror: true }, first())));
add(`refine x2 + mirror on last`, five('prod', async (im, box) => {
  const p1 = await refined(SPAN, CX, CY, 1)(im, box);
  return lm.points(im, cropFromPoints(p1, SPAN, CX, CY), { ...PRODUCTION, mirror: true });
}));
// Candidate pipelines (combinations of the variants above), compared under --boxes/--flop/--max.
const sq = (im: RgbImage, box: BoxArray, o = PRODUCTION) => lm.points(im, squareCrop(box, 1.1, 'mean', 0, 0.03), o);
add('CAND A: square x1.1 dy 0.03, outer mouth corners', five('outerMouth', (im, box) => sq(im, box)));
add('CAND B: A + mirror average', five('outerMouth', (im, box) => sq(im, box, { ...PRODUCTION, mirror: true })));
add('CAND C: A + refine (span 0.82, cy 0.59)', five('outerMouth', refined(0.82, 0.5, 0.59, 1, PRODUCTION, (im, box) => sq(im, box))));
add('CAND D: A + refine + mirror on 2nd', five('outerMouth', refined(0.82, 0.5, 0.59, 1, { ...PRODUCTION, mirror: true }, (im, box) => sq(im, box))));
add('CAND E: square x1.2 dy 0.03, outer mouth', five('outerMouth', (im, box) => lm.points(im, squareCrop(box, 1.2, 'mean', 0, 0.03))));
add('CAND F: square x1.1 dy 0.03, production 5-pt rule', five('prod', (im, box) => sq(im, box)));
add('CAND G: A without antialiasing', five('outerMouth', (im, box) => sq(im, box, { ...PRODUCTION, antialias: false })));
if (args.sweep2) {
  for (const sc of [1.0, 1.1, 1.2, 1.3]) {
    for (const dy of [0, 0.03, 0.06, 0.09]) add(`sweep2 square mean x${sc} dy ${dy}`, five('prod', (im, box) => lm.points(im, squareCrop(box, sc, 'mean', 0, dy))));
  }
}
if (args.sweep) {
  for (const span of [0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9]) {
    for (const cy of [CY - 0.04, CY, CY + 0.04]) add(`sweep refine x1 span ${span} cy ${cy.toFixed(3)}`, five('prod', refined(span, CX, cy, 1)));
  }
}

if (args.timing) {
  // One thread, interleaved rounds (other processes share the 2 cores): median of 7 rounds,
  // each over the first 40 photos' faces, per face (landmarks) or per photo (detector).
  const sample = photos.filter((p) => box320.has(p)).slice(0, 40);
  const lmVariants = todo.filter(([n]) => !args.only || new RegExp(args.only).test(n)).filter(([n]) => !n.startsWith('REF') && !n.startsWith('DIAG'));
  const detVariants: [string, (im: RgbImage) => Promise<unknown>][] = [
    ['detector: production (stretch)', (im) => rfb320.detect(im)],
    ['detector: letterbox', (im) => study.detectLetterbox(im)],
    ['detector: clamped aspect', (im) => study.detectClamped(im)],
    ['detector: letterbox twice (mirror TTA with the flip done in the graph)', async (im) => { await study.detectLetterbox(im); await study.detectLetterbox(im); }],
    ['detector: mirror TTA letterbox (flip in JS)', (im) => study.detectMirrorTta(im, 'letterbox')],
  ];
  const all: [string, (p: string) => Promise<unknown>][] = [
    ...detVariants.map(([n, fn]) => [n, (p: string) => fn(images.get(p)!)] as [string, (p: string) => Promise<unknown>]),
    ...lmVariants.map(([n, v]) => [`landmarks: ${n}`, (p: string) => v(images.get(p)!, box320.get(p)!, p)] as [string, (p: string) => Promise<unknown>]),
  ];
  const times = new Map<string, number[]>(all.map(([n]) => [n, []]));
  for (let round = 0; round < 8; round++) {
    for (const [n, fn] of all) {
      const t = performance.now();
      for (const p of sample) await fn(p);
      if (round > 0) times.get(n)!.push((performance.now() - t) / sample.length);
    }
  }
  console.log('\n| step variant | ms (median of 7 rounds; per photo for the detector, per face for landmarks) |');
  console.log('|---|---|');
  for (const [n, ts] of times) console.log(`| ${n} | ${ts.sort((a, b) => a - b)[3].toFixed(2)} |`);
  process.exit(0);
}

for (const [name, v, boxes] of todo) {
  if (args.only && !new RegExp(args.only).test(name)) continue;
  await evaluate(name, v, boxes);
}
console.log(`\nRFB-320 detection ms/photo (one thread, incl. preprocessing): ${(detMs.reduce((s, x) => s + x, 0) / detMs.length).toFixed(2)}`);
if (args.counts) await study.countsReport();
