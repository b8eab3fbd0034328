/**
 * Where a small JPEG's decode goes beyond libjpeg-turbo's own (issue 14: 2.8 ms a 640-px photo
 * against tjbench's 0.7, bench/decode-set.ts). Each sharp call is measured as process CPU split
 * into user and kernel time, with the minor page faults and voluntary context switches it causes
 * (getrusage over `--runs` calls, one at a time, one libvips thread as in the server):
 *   - a 16x16 raw image through sharp and back: the fixed cost of a call;
 *   - the photo's decoded pixels through sharp and back: the cost of moving them, no decoding;
 *   - the photo decoded as server/pipeline/decode.ts does it (decodeImage).
 *   node dist/bench/decode-anatomy.js [--runs N] [photo]
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { decodeImage } from '../server/pipeline/decode.js';

sharp.cache(false);
sharp.concurrency(1);

const { values, positionals } = parseArgs({ options: { runs: { type: 'string', default: '400' } }, allowPositionals: true });
const RUNS = Number(values.runs);
const path = positionals[0] ?? '../shared/faces/deepface/img62.jpg';
// As `npm run bench -- --photos 640` sends it.
const jpeg = await sharp(readFileSync(path)).rotate().resize(640, 640, { fit: 'inside', withoutEnlargement: true }).jpeg({ quality: 90 }).toBuffer();
const decoded = await sharp(jpeg).raw().toBuffer({ resolveWithObject: true });
const { width, height } = decoded.info;
const tiny = Buffer.alloc(16 * 16 * 3);

const cases: [string, () => Promise<unknown>][] = [
  ['16x16 raw through sharp', () => sharp(tiny, { raw: { width: 16, height: 16, channels: 3 } }).raw().toBuffer()],
  [`${width}x${height} raw through sharp`, () => sharp(decoded.data, { raw: { width, height, channels: 3 } }).raw().toBuffer()],
  [`${width}x${height} JPEG, decodeImage`, () => decodeImage(jpeg, 640)],
];

console.log(`${path.split('/').pop()} re-encoded at ${width}x${height}, ${RUNS} calls each, per call:`);
console.log('| call | CPU ms | user | kernel | minor faults | voluntary switches |\n|---|---|---|---|---|---|');
for (const [name, call] of cases) {
  for (let i = 0; i < 30; i++) await call();
  const r0 = process.resourceUsage();
  for (let i = 0; i < RUNS; i++) await call();
  const r = process.resourceUsage();
  const per = (a: number, b: number, scale = 1) => ((b - a) / RUNS / scale);
  const user = per(r0.userCPUTime, r.userCPUTime, 1000);
  const kernel = per(r0.systemCPUTime, r.systemCPUTime, 1000);
  console.log(`| ${name} | ${(user + kernel).toFixed(2)} | ${user.toFixed(2)} | ${kernel.toFixed(2)} `
    + `| ${per(r0.minorPageFault, r.minorPageFault).toFixed(0)} | ${per(r0.voluntaryContextSwitches, r.voluntaryContextSwitches).toFixed(1)} |`);
}
