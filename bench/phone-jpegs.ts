/**
 * Issue 14's decode target on phone-size JPEGs: the production decode (server/pipeline/decode.ts,
 * max_size 640: header, plan, decode, shrink, colour conversion) against libjpeg-turbo's own
 * decode at the same DCT scale (bench/tjbench.ts), and sharp's path for comparison. The photos
 * are a shared portrait (deepface/img3.jpg) re-encoded at a phone's 12 and 3 megapixels, without
 * a profile, with an sRGB one and with Display P3 (an iPhone's). CPU ms, the median of 15
 * after 20 decodes to warm up (a server's decode runs compiled): of the decoding thread for
 * facerest's (libjpeg-turbo decodes on the caller's thread, as on a server's inference worker,
 * where V8's helpers are counted apart), of this process for sharp's (libuv's threads). Each case is
 * measured in ROUNDS rounds of facerest, tjbench and sharp one after the other, and the ratios
 * are those of each round's figures, their median and range printed: on a shared machine the
 * same decode runs up to 1.5x slower for stretches of a few hundred milliseconds (round
 * fifteen), and one figure of ours against a tjbench run taken later compared two stretches.
 *   node dist/bench/phone-jpegs.js
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import sharp from 'sharp';
import { decodedSize, decodeImage } from '../server/pipeline/decode.js';
import { dctScale, turboJpeg } from '../server/pipeline/turbojpeg.js';
import { loadConfig } from '../server/config.js';
import { threadCpuSeconds } from '../models/inference/onnx/run-cpu.js';
import { readFace } from '../test/helpers/data.js';
import { percentile } from './stats.js';
import { tjbenchMs } from './tjbench.js';

const MAX = 640;
const jpeg = turboJpeg(loadConfig().jpegDecoder);
const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

const ROUNDS = 5;

const median = (xs: number[]) => percentile(xs, 0.5);

async function warm(fn: () => Promise<unknown>): Promise<void> {
  for (let i = 0; i < 20; i++) await fn();
}

/**
 * A full collection before each timed decode, outside its time: a decode's 0.9 MB of output is
 * freed when V8 collects it, and in a loop of decodes alone that came late, so each decode wrote
 * its output to fresh pages (about 240 page faults, 1.7 ms of a 3 MP decode, against none for
 * `tjbench`, which decodes into one buffer again and again). The server's inference workers,
 * whose other work keeps the collector going, took 2 to 8 page faults a photo under load.
 */
setFlagsFromString('--expose-gc');
const collect = runInNewContext('gc') as () => void;

const threadMs = () => threadCpuSeconds() * 1000;

async function medianMs(fn: () => Promise<unknown>, clock: () => number): Promise<number> {
  const t: number[] = [];
  for (let i = 0; i < 15; i++) {
    collect();
    const c = clock();
    await fn();
    t.push(clock() - c);
  }
  return median(t);
}

/** The median of the rounds' ratios, and their range. */
const ratio = (num: number[], den: number[]) => {
  const r = num.map((x, i) => x / den[i]);
  return `${median(r).toFixed(2)} (${Math.min(...r).toFixed(2)}-${Math.max(...r).toFixed(2)})`;
};

const portrait = readFace('deepface/img3.jpg');
const phone = (width: number, height: number, profile?: string) => {
  const resized = sharp(portrait).resize(width, height, { fit: 'fill' });
  return (profile ? resized.withIccProfile(profile) : resized).jpeg({ quality: 90 }).toBuffer();
};
const cases: [string, Buffer][] = [
  ['12 MP, no profile', await phone(4032, 3024)],
  ['12 MP, sRGB profile', await phone(4032, 3024, 'srgb')],
  ['12 MP, Display P3', await phone(4032, 3024, 'p3')],
  ['3 MP, no profile', await phone(2016, 1512)],
  ['3 MP, Display P3', await phone(2016, 1512, 'p3')],
];

const dir = mkdtempSync(join(tmpdir(), 'phone-jpegs-'));
try {
  console.log(`| photo | DCT scale | facerest ms | sharp ms | tjbench ms | facerest / tjbench (${ROUNDS} rounds) | sharp / tjbench |`);
  console.log('|---|---|---|---|---|---|---|');
  for (const [name, data] of cases) {
    const { width, height } = await sharp(data).metadata();
    const k = dctScale(width!, height!, decodedSize(width!, height!, MAX));
    const file = join(dir, 'phone.jpg');
    writeFileSync(file, data);
    const decodeOurs = () => decodeImage(data, MAX, undefined, { jpeg });
    const decodeSharp = () => decodeImage(data, MAX);
    await warm(decodeOurs);
    await warm(decodeSharp);
    const ours: number[] = [];
    const tj: number[] = [];
    const viaSharp: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      ours.push(await medianMs(decodeOurs, threadMs));
      tj.push(tjbenchMs(file, k));
      viaSharp.push(await medianMs(decodeSharp, cpuMs));
    }
    console.log(`| ${name} | 1/${k} | ${median(ours).toFixed(1)} | ${median(viaSharp).toFixed(1)} | ${median(tj).toFixed(1)} | **${ratio(ours, tj)}** | ${ratio(viaSharp, tj)} |`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
