/**
 * Issue 13, part 1: one-thread CPU per photo, by step, of the default-pack pipeline before
 * issue 13 and of the production code now (the recommended one (detector input stretched but faces never widened, see
 * ultraface-variants.ts 'clamp'; landmarks on a square crop
 * 1.1 x the box's mean side, moved down 0.03 of the side; mouth corners 48/54), interleaved photo
 * by photo, on `npm run bench`'s photo set (deepface portraits + bbt1..5).
 *   node dist/bench/cpu-per-photo.js [640]   (640: the files re-encoded as JPEGs of at most 640 px,
 *   as `npm run bench -- --photos 640`)
 */
import { performance } from 'node:perf_hooks';
import { DEFAULT_PACK, packModels } from '../models/packs/catalog.js';
import { loadDetector, loadLandmarker, loadRecognizer } from '../models/inference/zoo.js';
import { openModelFile as openModel } from '../models/inference/onnx/session.js';
import type { Detection, RgbImage } from '../models/inference/types.js';
import { decodeImage } from '../server/pipeline/decode.js';
import { alignmentMap } from '../server/worker/align.js';
import { benchPhotos, benchPhotosAt } from './photos.js';
import { FIVE_RULES, fivePoints, Lm68, squareCrop } from './lm68-variants.js';
import { UltraFaceStudy } from './ultraface-variants.js';

const small = process.argv.includes('640');
const photos = small ? await benchPhotosAt(640) : benchPhotos();
const det = await loadDetector(packModels(DEFAULT_PACK, 'detector')[0]);
const lmProd = await loadLandmarker(packModels(DEFAULT_PACK, 'landmarks')[0]);
const rec = await loadRecognizer(packModels(DEFAULT_PACK, 'recognizer')[0]);
const study = await UltraFaceStudy.open(packModels(DEFAULT_PACK, 'detector')[0].path);
const lm = new Lm68((await openModel(packModels(DEFAULT_PACK, 'landmarks')[0].path)).session);

type Steps = { decode: number; detect: number; landmarks: number; embed: number; faces: number };
const zero = (): Steps => ({ decode: 0, detect: 0, landmarks: 0, embed: 0, faces: 0 });
const pipelines: [string, (im: RgbImage) => Promise<Detection[]>, (im: RgbImage, d: Detection) => Promise<Float32Array>][] = [
  // The pipeline before issue 13, rebuilt from the study classes (stretched input, square crop of
  // the box's mean side, mouth corners averaged with the inner ones).
  ['before (stretch, square mean crop, 5-pt rule pkg)', (im) => study.detect(im),
    async (im, d) => fivePoints(await lm.points(im, squareCrop(d.box, 1, 'mean', 0, 0)), FIVE_RULES.prod)],
  // The production code as it is now (models/inference/families/ultraface.ts, landmarks68.ts).
  ['production code (clamped aspect, 1.1x crop dy 0.03, outer mouth corners)', (im) => det.detect(im), (im, d) => lmProd.fivePoints(im, d.box)],
];
const totals = pipelines.map(() => zero());
for (let round = 0; round < 3; round++) {
  for (const p of photos) {
    for (const [k, [, detect, landmarks]] of pipelines.entries()) {
      const t = round === 0 ? zero() : totals[k];
      let s = performance.now();
      const { image } = await decodeImage(p.data, 640);
      t.decode += performance.now() - s;
      s = performance.now();
      const dets = await detect(image);
      t.detect += performance.now() - s;
      s = performance.now();
      const fives: Float32Array[] = [];
      for (const d of dets) fives.push(await landmarks(image, d));
      t.landmarks += performance.now() - s;
      s = performance.now();
      await rec.embed(fives.map((f) => ({ image, map: alignmentMap(f) })));
      t.embed += performance.now() - s;
      t.faces += dets.length;
    }
  }
}
const n = photos.length * 2;
console.log(`${small ? '640-px JPEGs' : 'original files'}, ${photos.length} photos x 2 rounds, one thread, ms per photo:`);
console.log('| pipeline | faces/photo | decode | detect | landmarks (per face) | embed (per face) | total |');
console.log('|---|---|---|---|---|---|---|');
for (const [k, [name]] of pipelines.entries()) {
  const t = totals[k];
  const total = (t.decode + t.detect + t.landmarks + t.embed) / n;
  console.log(`| ${name} | ${(t.faces / n).toFixed(2)} | ${(t.decode / n).toFixed(2)} | ${(t.detect / n).toFixed(2)} | ${(t.landmarks / n).toFixed(2)} (${(t.landmarks / t.faces).toFixed(2)}) | ${(t.embed / n).toFixed(2)} (${(t.embed / t.faces).toFixed(2)}) | ${total.toFixed(2)} |`);
}
