/**
 * Issue 13, part 1 (research): RFB-320 detector variants on every shared photo (max_size 640).
 *   node dist/bench/detector-study.js
 * Reference faces (../shared/models, never shipped): SCRFD-2.5G's, plus boxes YuNet-s and RFB-640
 * agree on; on the face-api.js identity crops (150 px, the face fills the frame, which defeats the
 * references) the production detector's largest box. A detection is right when it overlaps a
 * reference face (IoU >= 0.3); each reference face counts once.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { BoxArray, Detection, ModelFile, RgbImage } from '../models/inference/types.js';
import { DEFAULT_PACK, packModels } from '../models/packs/catalog.js';
import { loadDetector } from '../models/inference/zoo.js';
import { decodeImage } from '../server/pipeline/decode.js';
import { SHARED } from './photos.js';
import { iou, UltraFaceStudy } from './ultraface-variants.js';

const shared = (...p: string[]): ModelFile => ({ path: join(SHARED, 'models', ...p), pack: 'custom' });
const walk = (dir: string): string[] => readdirSync(dir).flatMap((f) => {
  const p = join(dir, f);
  return statSync(p).isDirectory() ? walk(p) : /\.(jpe?g|png)$/i.test(f) ? [p] : [];
});
const files = walk(join(SHARED, 'faces')).filter((f) => !/TH\.png$/.test(f));
const [detFile] = packModels(DEFAULT_PACK, 'detector');
const study = await UltraFaceStudy.open(detFile.path);
const [scrfd, yunet, rfb640] = await Promise.all([shared('scrfd', 'det_2.5g.onnx'), shared('yunet', 'yunet_s_dynamic.onnx'), shared('ultraface', 'version-RFB-640.onnx')].map((f) => loadDetector(f)));

const area = (b: BoxArray) => (b[2] - b[0]) * (b[3] - b[1]);
const images = new Map<string, RgbImage>();
const truth = new Map<string, BoxArray[]>();
for (const f of files) {
  const key = relative(join(SHARED, 'faces'), f);
  const im = (await decodeImage(readFileSync(f), 640)).image;
  images.set(key, im);
  const gt = (await scrfd.detect(im)).map((d) => d.box);
  const y = (await yunet.detect(im)).map((d) => d.box);
  const r = (await rfb640.detect(im)).map((d) => d.box);
  for (const b of y) if (r.some((c) => iou(b, c) >= 0.3) && !gt.some((c) => iou(b, c) >= 0.3)) gt.push(b);
  // The identity crops: the face fills the frame (checked by eye).
  if (/examples\/images\/[a-z]+\//.test(key) && gt.length === 0) gt.push([0, 0, im.width, im.height]);
  truth.set(key, gt);
}
const nTruth = [...truth.values()].reduce((s, g) => s + g.length, 0);
const bigTruthOf = (key: string) => truth.get(key)!.filter((b) => Math.max(b[2] - b[0], b[3] - b[1]) >= 0.1 * Math.min(images.get(key)!.width, images.get(key)!.height));
const nBig = [...truth.keys()].reduce((s, k) => s + bigTruthOf(k).length, 0);

const variants: [string, (im: RgbImage) => Promise<Detection[]>][] = [
  ['production (stretch)', (im) => study.detect(im)],
  ['letterbox', (im) => study.detectLetterbox(im)],
  [`clamped aspect (r in [${process.env.R_MIN ?? 0.75}, ${process.env.R_MAX ?? 1}])`, (im) => study.detectClamped(im)],
  ['mirror TTA, stretch', (im) => study.detectMirrorTta(im)],
  ['mirror TTA, letterbox', (im) => study.detectMirrorTta(im, 'letterbox')],
  ['mirror TTA, clamped aspect', (im) => study.detectMirrorTta(im, 'clamp')],
  ['two scales (2x2 tiles)', (im) => study.detectTwoScales(im)],
];
console.log(`# ${files.length} photos, ${nTruth} reference faces (${nBig} with side >= 10% of the short side)`);
console.log('| detector variant | faces found | missed | false boxes | false boxes >= 10% side | largest box wrong (photos) | ms/photo |');
console.log('|---|---|---|---|---|---|---|');
for (const [name, fn] of variants) {
  if (process.env.ONLY && !new RegExp(process.env.ONLY).test(name)) continue;
  let tp = 0, fp = 0, fpBig = 0, wrongLargest = 0, ms = 0;
  const wrong: string[] = [];
  for (const [key, im] of images) {
    await fn(im); // warm: time the second run
    const t = performance.now();
    const dets = await fn(im);
    ms += performance.now() - t;
    const gt = truth.get(key)!;
    const used = new Set<number>();
    for (const d of dets) {
      let j = -1, best = 0.3;
      gt.forEach((g, i) => { const o = iou(g, d.box); if (!used.has(i) && o >= best) { best = o; j = i; } });
      if (j >= 0) { used.add(j); tp++; } else {
        fp++;
        if (Math.max(d.box[2] - d.box[0], d.box[3] - d.box[1]) >= 0.1 * Math.min(im.width, im.height)) fpBig++;
      }
    }
    const largest = [...dets].sort((a, b) => area(b.box) - area(a.box))[0];
    if (largest && !gt.some((g) => iou(g, largest.box) >= 0.3)) { wrongLargest++; wrong.push(key); }
  }
  console.log(`| ${name} | ${tp} | ${nTruth - tp} | ${fp} | ${fpBig} | ${wrongLargest} ${wrong.join(' ')} | ${(ms / images.size).toFixed(2)} |`);
}

// The max_size agreement test's measure (test/max-size.test.ts): boxes at max_size 320, 640 and
// 0 mapped to original pixels, largest corner difference in % of the face width.
console.log('\n| detector variant | bbt1 corner diff | bbt4 corner diff |');
console.log('|---|---|---|');
for (const [name, fn] of variants.slice(0, 5)) {
  if (process.env.ONLY && !new RegExp(process.env.ONLY).test(name)) continue;
  const cells: string[] = [];
  for (const f of ['bbt1.jpg', 'bbt4.jpg']) {
    const data = readFileSync(join(SHARED, 'faces', 'face-api.js', 'examples', 'images', f));
    const sets: BoxArray[][] = [];
    let W = 0;
    for (const max of [0, 640, 320]) {
      const d = await decodeImage(data, max);
      W ||= d.width;
      const k = d.width / d.image.width;
      sets.push((await fn(d.image)).map((x) => x.box.map((v) => v * k) as BoxArray));
    }
    let worst = 0;
    for (const other of sets.slice(1)) {
      if (other.length !== sets[0].length) { worst = Infinity; break; }
      for (const b of sets[0]) {
        const c = [(b[0] + b[2]) / 2, (b[1] + b[3]) / 2];
        const o = other.reduce((best, x) => (Math.hypot((x[0] + x[2]) / 2 - c[0], (x[1] + x[3]) / 2 - c[1]) < Math.hypot((best[0] + best[2]) / 2 - c[0], (best[1] + best[3]) / 2 - c[1]) ? x : best));
        for (let i = 0; i < 4; i++) worst = Math.max(worst, Math.abs(b[i] - o[i]) / (b[2] - b[0]));
      }
    }
    cells.push(Number.isFinite(worst) ? `${(100 * worst).toFixed(1)}%` : 'counts differ');
  }
  console.log(`| ${name} | ${cells.join(' | ')} |`);
}
