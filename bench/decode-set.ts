/**
 * Issue 14, section 2: the production decode (server/pipeline/decode.ts, max_size 640) of every
 * JPEG in `npm run bench`'s photo set against libjpeg-turbo's own decode (`tjbench`, Debian's
 * libjpeg-turbo-progs) at the scale sharp's shrink-on-load uses (dctScale in turbojpeg.ts, which
 * facerest's own plain-JPEG decode uses too) and at the smallest DCT scale that still gives
 * 640 px. decodeImage: CPU ms of this process, median of 7, one libvips thread;
 * tjbench: CPU ms per decode (bench/tjbench.ts). "main" is the part of
 * decodeImage's CPU spent on the main thread (sharp's JavaScript side, the header read). Plain
 * JPEGs go to libjpeg-turbo directly as in the server (turbojpeg.ts), unless
 * FACEREST_JPEG_DECODER=sharp.
 *   node dist/bench/decode-set.js [640]   (640: the photos re-encoded as JPEGs of at most 640 px,
 *   as `npm run bench -- --photos 640`)
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { decodedSize, decodeImage } from '../server/pipeline/decode.js';
import { isSrgbProfile } from '../server/pipeline/icc.js';
import { dctScale, turboJpeg } from '../server/pipeline/turbojpeg.js';
import { loadConfig } from '../server/config.js';
import { benchPhotos, benchPhotosAt } from './photos.js';
import { tjbenchMs } from './tjbench.js';

const MAX = 640;
const jpeg = turboJpeg(loadConfig().jpegDecoder);
const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

/** CPU ms of the main thread (Linux: its schedstat's run time). */
const mainMs = () => Number(readFileSync(`/proc/self/task/${process.pid}/schedstat`, 'utf8').split(' ')[0]) / 1e6;

/** Medians of 7 runs: process CPU ms and main-thread CPU ms. */
async function median(fn: () => Promise<unknown>): Promise<{ cpu: number; main: number }> {
  await fn();
  const t: number[] = [];
  const m: number[] = [];
  for (let i = 0; i < 7; i++) {
    const c = cpuMs();
    const mm = mainMs();
    await fn();
    t.push(cpuMs() - c);
    m.push(mainMs() - mm);
  }
  return { cpu: t.sort((a, b) => a - b)[3], main: m.sort((a, b) => a - b)[3] };
}

const ideal = (larger: number) => [8, 4, 2, 1].find((k) => larger / k >= MAX) ?? 1;

const small = process.argv.includes('640');
const photos = small ? await benchPhotosAt(MAX) : benchPhotos();
const dir = mkdtempSync(join(tmpdir(), 'decode-set-'));
const rows: string[] = [];
let sumSharp = 0, sumMain = 0, sumTjSame = 0, sumTjIdeal = 0, n = 0;
try {
  for (const p of photos) {
    const meta = await sharp(p.data).metadata();
    if (meta.format !== 'jpeg') continue;
    const file = join(dir, 'photo.jpg');
    writeFileSync(file, p.data);
    const larger = Math.max(meta.width!, meta.height!);
    const k = larger > MAX ? dctScale(meta.width!, meta.height!, decodedSize(meta.width!, meta.height!, MAX)) : 1;
    const best = larger > MAX ? ideal(larger) : 1;
    const { cpu: ms, main } = await median(() => decodeImage(p.data, MAX, undefined, { jpeg }));
    const same = tjbenchMs(file, k);
    const bestMs = best === k ? same : tjbenchMs(file, best);
    const icc = meta.icc ? (isSrgbProfile(meta.icc) ? 'sRGB' : 'other') : 'none';
    rows.push(`| ${p.name.split('/').pop()} | ${meta.width}x${meta.height} ${meta.chromaSubsampling}${meta.isProgressive ? ' prog' : ''} | ${icc} `
      + `| 1/${k} | ${ms.toFixed(1)} | ${main.toFixed(2)} | ${same.toFixed(1)} | ${(ms / same).toFixed(2)} | 1/${best} | ${bestMs.toFixed(1)} | ${(ms / bestMs).toFixed(2)} |`);
    sumSharp += ms; sumMain += main; sumTjSame += same; sumTjIdeal += bestMs; n++;
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
console.log('| photo | size | ICC | DCT scale | decodeImage ms | of which main | tjbench same scale | ratio | best scale | tjbench | ratio |');
console.log('|---|---|---|---|---|---|---|---|---|---|---|');
for (const r of rows) console.log(r);
console.log(`${n} JPEGs${small ? ' (640 px)' : ''}, mean ms: decodeImage ${(sumSharp / n).toFixed(2)} (main thread ${(sumMain / n).toFixed(2)}), tjbench at sharp's scale ${(sumTjSame / n).toFixed(2)} `
  + `(ratio of sums ${(sumSharp / sumTjSame).toFixed(2)}), at the best scale ${(sumTjIdeal / n).toFixed(1)} (${(sumSharp / sumTjIdeal).toFixed(2)})`);
