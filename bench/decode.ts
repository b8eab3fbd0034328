/**
 * Decode-only bench (issue 14, section 2): one libvips thread, one photo at a time, CPU time of
 * this process per decode (process.cpuUsage, so a preempted run is not counted as busy).
 * Compares the server's current pipeline with variants that drop steps a plain 8-bit sRGB JPEG
 * does not need. djpeg (Debian: `apt-get install libjpeg-turbo-progs`) is the reference when present.
 * Run: node dist/bench/decode.js [photo ...]
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import sharp from 'sharp';
import { decodeImage } from '../server/pipeline/decode.js';
import { readJpegHeader } from '../server/pipeline/jpeg-header.js';

sharp.cache(false);
sharp.concurrency(1);

type Variant = (data: Buffer, max: number) => Promise<unknown>;

const variants: Record<string, Variant> = {
  // server/pipeline/decode.ts as it is (header read, format check, profile check included).
  production: (d, max) => decodeImage(d, max),
  // What server/pipeline/decode.ts did before issue 14.
  current: (d, max) => sharp(d, { failOn: 'warning' }).rotate()
    .resize({ width: max, height: max, fit: 'inside' })
    .flatten({ background: '#ffffff' }).toColourspace('srgb').raw({ depth: 'uchar' }).toBuffer(),
  sequential: (d, max) => sharp(d, { failOn: 'warning', sequentialRead: true }).rotate()
    .resize({ width: max, height: max, fit: 'inside' })
    .flatten({ background: '#ffffff' }).toColourspace('srgb').raw({ depth: 'uchar' }).toBuffer(),
  noFlattenColour: (d, max) => sharp(d, { failOn: 'warning' }).rotate()
    .resize({ width: max, height: max, fit: 'inside' }).raw({ depth: 'uchar' }).toBuffer(),
  seqNoFlatten: (d, max) => sharp(d, { failOn: 'warning', sequentialRead: true }).rotate()
    .resize({ width: max, height: max, fit: 'inside' }).raw({ depth: 'uchar' }).toBuffer(),
  // An embedded ICC profile makes sharp transform every pixel to sRGB with lcms; keepIccProfile skips it.
  keepIcc: (d, max) => sharp(d, { failOn: 'warning' }).rotate()
    .resize({ width: max, height: max, fit: 'inside' }).keepIccProfile().raw({ depth: 'uchar' }).toBuffer(),
  keepIccLinear: (d, max) => sharp(d, { failOn: 'warning' }).rotate()
    .resize({ width: max, height: max, fit: 'inside', kernel: 'linear' }).keepIccProfile().raw({ depth: 'uchar' }).toBuffer(),
  // The embedded profile ignored (what production does for sRGB profiles), without and with the
  // flatten and colour-space steps.
  ignoreIcc: (d, max) => sharp(d, { failOn: 'warning', ignoreIcc: true }).rotate()
    .resize({ width: max, height: max, fit: 'inside' })
    .flatten({ background: '#ffffff' }).toColourspace('srgb').raw({ depth: 'uchar' }).toBuffer(),
  ignoreIccBare: (d, max) => sharp(d, { failOn: 'warning', ignoreIcc: true })
    .resize({ width: max, height: max, fit: 'inside' }).raw({ depth: 'uchar' }).toBuffer(),
  // Decoding at the shrink-on-load scale alone (the size asked is exactly 1/2): what libvips
  // adds to libjpeg's own decode at that scale, before any resampling.
  halfOnly: async (d) => {
    const m = await sharp(d).metadata();
    return sharp(d, { failOn: 'warning', ignoreIcc: true })
      .resize({ width: Math.ceil(m.width! / 2), height: Math.ceil(m.height! / 2), fit: 'fill' }).raw().toBuffer();
  },
  fullDecodeOnly: (d) => sharp(d, { sequentialRead: true }).raw().toBuffer(),
  // The DCT scale sharp's shrink-on-load guard gives up (a photo 1280-1919 px for 640 is
  // decoded at 1/1): sharp's buffer input has no way to ask for it; a file path with libvips'
  // option string does (jpegload's shrink), at the cost of writing the upload to a file.
  // Measured on the 14 such photos of the bench set: 15.8 to 13.3 ms, pixels off by a mean of
  // up to 1.4 levels (max 78 at edges), 2 of 14 a pixel smaller; not adopted.
  shrinkViaFile: async (d, max) => {
    const m = await sharp(d).metadata();
    const shrink = Math.max(m.width!, m.height!) / max;
    const k = shrink >= 8 ? 8 : shrink >= 4 ? 4 : shrink >= 2 ? 2 : 1;
    const file = `/dev/shm/facerest-bench-${process.pid}.jpg`;
    writeFileSync(file, d);
    try {
      return await sharp(`${file}[shrink=${k}]`, { failOn: 'warning', ignoreIcc: true }).rotate()
        .resize({ width: max, height: max, fit: 'inside' }).raw({ depth: 'uchar' }).toBuffer();
    } finally {
      unlinkSync(file);
    }
  },
  // The header read before the decode: sharp's (what decode.ts did before jpeg-header.ts) and
  // the JavaScript one it uses for JPEGs now.
  sharpMetadata: (d) => sharp(d, { limitInputPixels: false }).metadata(),
  jsHeader: async (d) => readJpegHeader(d),
};

function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

async function measure(fn: () => Promise<unknown>, runs: number): Promise<number> {
  await fn();
  const t: number[] = [];
  for (let i = 0; i < runs; i++) {
    const c = cpuMs();
    await fn();
    t.push(cpuMs() - c);
  }
  t.sort((a, b) => a - b);
  return t[Math.floor(t.length / 2)];
}

function djpegMs(path: string, scale: string): number | null {
  try {
    const t: number[] = [];
    for (let i = 0; i < 7; i++) {
      const s = process.hrtime.bigint();
      execFileSync('djpeg', ['-scale', scale, '-outfile', '/dev/null', path]);
      t.push(Number(process.hrtime.bigint() - s) / 1e6);
    }
    t.sort((a, b) => a - b);
    return t[3];
  } catch {
    return null;
  }
}

const photos = process.argv.slice(2);
if (photos.length === 0) photos.push('../shared/faces/deepface/couple.jpg', '../shared/faces/deepface/img1.jpg');
const max = 640;
for (const p of photos) {
  const data = readFileSync(p);
  const meta = await sharp(data).metadata();
  const row: string[] = [`${p.split('/').pop()} ${meta.width}x${meta.height} ${meta.chromaSubsampling ?? ''}${meta.isProgressive ? ' progressive' : ''}`];
  for (const [name, fn] of Object.entries(variants)) {
    row.push(`${name}=${(await measure(() => fn(data, max), 9)).toFixed(1)}`);
  }
  const full = djpegMs(p, '1/1');
  const half = djpegMs(p, '1/2');
  row.push(full === null ? 'djpeg: not installed (apt-get install libjpeg-turbo-progs)' : `djpeg1/1=${full.toFixed(1)} djpeg1/2=${half?.toFixed(1)} (wall)`);
  console.log(row.join('  '));
}
