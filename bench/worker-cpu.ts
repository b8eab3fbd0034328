/**
 * Issue 14: the inference worker's CPU outside ONNX Runtime, per photo, on one thread: the
 * default pack's models loaded in this process, each photo decoded as the server does
 * (decodeImage at max_size 640; in the server the worker calls sharp itself, whose JavaScript
 * side this leaves out), then what a pool worker runs on it (extractFaces with the server's
 * default query). The thread's CPU (run-cpu.ts's threadCpuSeconds) minus its CPU inside ONNX
 * Runtime's run (run-cpu.ts) is the figure `npm run bench` calls "worker outside ORT"; the
 * thread's whole CPU (ONNX Runtime's runs included) is printed beside it.
 *
 *   node dist/bench/worker-cpu.js [640] [--base DIST] [--rounds N]
 *
 * 640: the photos re-encoded as JPEGs of at most 640 px (as `npm run bench -- --photos 640`);
 * else the original files. --base: a dist/ tree built from an older commit (copied inside this
 * checkout, e.g. data/base-dist, so that its imports resolve; its addons load from
 * data/native/build, so link data/native to ../native, or it runs on the portable paths, with
 * ONNX Runtime's Resize counted inside its runs): the two are run interleaved photo
 * by photo, each with its own model sessions, and their outputs compared (boxes, landmarks,
 * embeddings). Then each runs alone for the same photos (twice, in turn), with the process's GC
 * counted (PerformanceObserver 'gc') and the CPU of the process's other threads (V8's helpers,
 * but also whatever else this process runs: noisy, a few tenths of a ms from run to run).
 * ALONE=before (or after) runs only that variant in this second part (one per process).
 */
import { PerformanceObserver } from 'node:perf_hooks';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { decodeImage, type DecodedImage } from '../server/pipeline/decode.js';
import { benchPhotos, benchPhotosAt } from './photos.js';
import type { FaceQuery, FoundFace } from '../server/worker/faces.js';

const args = process.argv.slice(2);
const small = args.includes('640');
const baseAt = args.indexOf('--base');
const roundsAt = args.indexOf('--rounds');
const rounds = roundsAt >= 0 ? Number(args[roundsAt + 1]) : 3;
const here = resolve(import.meta.dirname, '..');
const roots: [string, string][] = [];
if (baseAt >= 0) roots.push(['before', resolve(args[baseAt + 1])]);
roots.push(['after', here]);

interface Variant {
  name: string;
  models: unknown;
  extractFaces: (models: unknown, image: DecodedImage['image'], q: FaceQuery) => Promise<{ faces: FoundFace[] }>;
  takeOnnxCpu: () => Record<string, number>;
  threadCpuSeconds: () => number;
}

async function variant(name: string, root: string): Promise<Variant> {
  const load = (p: string) => import(pathToFileURL(resolve(root, p)).href);
  const catalog = await load('models/packs/catalog.js');
  const zoo = await load('models/inference/zoo.js');
  const faces = await load('server/worker/faces.js');
  const cpu = await load('models/inference/onnx/run-cpu.js');
  const file = (role: string) => catalog.packModels(catalog.DEFAULT_PACK, role)[0];
  const models = {
    detector: await zoo.loadDetector(file('detector')),
    landmarker: await zoo.loadLandmarker(file('landmarks')),
    recognizer: await zoo.loadRecognizer(file('recognizer')),
    attributes: [],
  };
  return { name, models, extractFaces: faces.extractFaces, takeOnnxCpu: cpu.takeOnnxCpu, threadCpuSeconds: cpu.threadCpuSeconds };
}

// The server's query for a request with no options (server/pipeline/options.ts).
const QUERY: FaceQuery = {
  limitFaces: 0, minFaceSize: 0, embed: true, returnCrops: false, embedOnly: false, attributes: false,
  maxFaces: 0, budgetMs: 0,
};

const sources = small ? await benchPhotosAt(640) : benchPhotos();
const decoded = await Promise.all(sources.map((p) => decodeImage(p.data, 640)));
const variants: Variant[] = [];
for (const [name, root] of roots) variants.push(await variant(name, root));

/** One photo as a worker runs it; returns [CPU outside ORT in ms, the thread's whole CPU in ms, faces]. */
async function runOne(v: Variant, d: DecodedImage): Promise<[number, number, FoundFace[]]> {
  const image = d.image;
  v.takeOnnxCpu();
  const start = v.threadCpuSeconds();
  const { faces } = await v.extractFaces(v.models, image, QUERY);
  const total = v.threadCpuSeconds() - start;
  const onnx = Object.values(v.takeOnnxCpu()).reduce((s, x) => s + x, 0);
  return [(total - onnx) * 1000, total * 1000, faces];
}

// Warm-up round (not counted), then interleaved rounds.
const outside = variants.map(() => 0);
const whole = variants.map(() => 0);
let faceCount = 0;
const worst = { box: 0, landmarks: 0, embedding: 0, faces: 0 };
for (let round = 0; round <= rounds; round++) {
  for (const d of decoded) {
    const results: FoundFace[][] = [];
    for (const [k, v] of variants.entries()) {
      const [ms, all, faces] = await runOne(v, d);
      if (round > 0) {
        outside[k] += ms;
        whole[k] += all;
      }
      results.push(faces);
    }
    if (round > 0) faceCount += results[results.length - 1].length;
    if (results.length === 2 && round === 1) {
      const [a, b] = results;
      if (a.length !== b.length) worst.faces++;
      for (let i = 0; i < Math.min(a.length, b.length); i++) {
        for (let j = 0; j < 4; j++) worst.box = Math.max(worst.box, Math.abs(a[i].box[j] - b[i].box[j]));
        for (let j = 0; j < 10; j++) worst.landmarks = Math.max(worst.landmarks, Math.abs(a[i].landmarks[j] - b[i].landmarks[j]));
        const ea = a[i].embedding!, eb = b[i].embedding!;
        for (let j = 0; j < ea.length; j++) worst.embedding = Math.max(worst.embedding, Math.abs(ea[j] - eb[j]));
      }
    }
  }
}
const n = decoded.length * rounds;
console.log(`${small ? '640-px JPEGs' : 'original files at max_size 640'}, ${decoded.length} photos x ${rounds} rounds, `
  + `${(faceCount / n).toFixed(2)} faces/photo, one thread, interleaved`);
for (const [k, v] of variants.entries()) {
  console.log(`  ${v.name}: worker CPU outside ORT ${(outside[k] / n).toFixed(2)} ms/photo, with ORT's runs ${(whole[k] / n).toFixed(2)}`);
}
if (variants.length === 2) {
  console.log(`  outputs, before vs after: photos with another face count ${worst.faces}, max |box diff| ${worst.box}, `
    + `max |landmark diff| ${worst.landmarks}, max |embedding diff| ${worst.embedding}`);
}

// Garbage: each variant alone over the same photos, GC pauses counted and the CPU of the
// process's threads other than this one (V8's GC and compiler helpers).
let gcCount = 0;
let gcMs = 0;
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) { gcCount++; gcMs += e.duration; }
}).observe({ entryTypes: ['gc'] });
// Twice in turn, so that neither variant always runs on the heap the other left.
const alone = variants.map(() => ({ gcCount: 0, gcMs: 0, otherMs: 0 }));
for (let pass = 0; pass < 2; pass++) {
  for (const [k, v] of variants.entries()) {
    if (process.env.ALONE && process.env.ALONE !== v.name) continue;
    await new Promise((r) => setTimeout(r, 50));
    gcCount = 0; gcMs = 0;
    const cpu0 = process.cpuUsage();
    const thread0 = v.threadCpuSeconds();
    for (let round = 0; round < rounds; round++) for (const d of decoded) await runOne(v, d);
    await new Promise((r) => setTimeout(r, 50));
    const cpu = process.cpuUsage(cpu0);
    alone[k].otherMs += (cpu.user + cpu.system) / 1000 - (v.threadCpuSeconds() - thread0) * 1000;
    alone[k].gcCount += gcCount;
    alone[k].gcMs += gcMs;
  }
}
for (const [k, v] of variants.entries()) {
  const a = alone[k];
  console.log(`  ${v.name} alone: GC events ${(a.gcCount / n / 2).toFixed(2)}/photo, GC pause ${(a.gcMs / n / 2).toFixed(2)} ms/photo, `
    + `other threads' CPU ${(a.otherMs / n / 2).toFixed(2)} ms/photo`);
}
