/**
 * Issue 13, part 3: how the face quality score behaves on the shared photos, with the real
 * server and the default pack (the numbers behind server/pipeline/quality.ts and the README's
 * "Face quality" tables).
 *   node dist/bench/quality-study.js
 * Prints: the distribution of `overall` over every face of the shared photos; verification AUC
 * on deepface/pairs.csv leaving out pairs with a face under 0.3, 0.5, 0.7; and, on portraits
 * made worse on purpose (blurred, darkened, shrunk), each part's score with the cosine to the
 * untouched photo's embedding.
 */
import { readdirSync } from 'node:fs';
import sharp from 'sharp';
import type { Face } from '../gen/facerest/v1/face_service_pb.js';
import { FaceGrpcClient } from '../clients/node/grpc-client.js';
import { largestFace } from '../clients/similarity.js';
import { QUALITY_SCALE } from '../server/pipeline/quality.js';
import { readCsv, readShared, sharedPath } from '../test/helpers/data.js';
import { auc, cosine } from '../test/helpers/roc.js';
import { startServer } from '../test/helpers/server.js';

const server = await startServer({});
const client = new FaceGrpcClient(server.address);
const faces = async (data: Buffer | Uint8Array, maxSize = 640): Promise<Face[]> => {
  const r = (await client.extract({ images: [{ data }], options: { maxSize } })).results[0];
  if (r.error) throw new Error(r.error.message);
  return r.faces;
};
const fmt = (v: number, d = 2) => v.toFixed(d);
const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)] ?? NaN;
/** The Laplacian-to-luma variance ratio behind a sharpness score. */
const detail = (s: number) => QUALITY_SCALE.detailHalf * Math.sqrt(s / (1 - s));

try {
  // 1. Every face of the shared photos.
  const sets: [string, string[]][] = [
    ['deepface portraits', readdirSync(sharedPath('faces', 'deepface')).filter((f) => f.endsWith('.jpg')).map((f) => `deepface/${f}`)],
    ['face-api.js crops and group shots', (readCsv('faces', 'face-api.js', 'identities.csv').map((r) => `face-api.js/${r.file}`))
      .concat([1, 2, 3, 4, 5].map((i) => `face-api.js/examples/images/bbt${i}.jpg`))],
    ['ultraface groups and crowds', readdirSync(sharedPath('faces', 'detection', 'ultraface')).filter((f) => /\.(jpe?g|png)$/i.test(f)).map((f) => `detection/ultraface/${f}`)],
  ];
  const all: Face[] = [];
  console.log('| photos | faces | overall < 0.3 | < 0.5 | < 0.7 | median overall | median sharpness (detail) | median brightness | median size px | median abs yaw |');
  console.log('|---|---|---|---|---|---|---|---|---|---|');
  for (const [name, files] of sets) {
    const found: Face[] = [];
    for (const f of files) found.push(...await faces(readShared('faces', f)));
    all.push(...found);
    const q = found.map((f) => f.quality!);
    const share = (t: number) => `${fmt((100 * q.filter((x) => x.overall < t).length) / q.length, 0)}%`;
    console.log(`| ${name} (${files.length}) | ${q.length} | ${share(0.3)} | ${share(0.5)} | ${share(0.7)} | ${fmt(median(q.map((x) => x.overall)))} `
      + `| ${fmt(median(q.map((x) => x.sharpness)))} (${fmt(median(q.map((x) => detail(x.sharpness))), 3)}) | ${fmt(median(q.map((x) => x.brightness)))} `
      + `| ${median(q.map((x) => x.sizePx))} | ${fmt(median(q.map((x) => Math.abs(x.yaw))), 1)} |`);
  }
  const hist = Array.from({ length: 10 }, (_, i) => all.filter((f) => Math.min(9, Math.floor(f.quality!.overall * 10)) === i).length);
  console.log(`\noverall histogram over ${all.length} faces (0-0.1, ..., 0.9-1): ${hist.join(' ')}`);

  // 2. Verification AUC without the pairs that have a face under a quality.
  const pairs = readCsv('faces', 'deepface', 'pairs.csv');
  const largest = new Map<string, Face | undefined>();
  for (const f of new Set(pairs.flatMap((p) => [p.file_a, p.file_b]))) largest.set(f, largestFace(await faces(readShared('faces', 'deepface', f))));
  console.log('\n| pairs left out: a face with overall under | pairs kept | same / different | AUC |');
  console.log('|---|---|---|---|');
  for (const min of [0, 0.3, 0.5, 0.7]) {
    const kept = pairs.filter((p) => [p.file_a, p.file_b].every((f) => (largest.get(f)?.quality?.overall ?? 0) >= min));
    const scores = kept.map((p) => cosine(largest.get(p.file_a)!.embedding, largest.get(p.file_b)!.embedding));
    const same = kept.map((p) => p.same === '1');
    console.log(`| ${min || 'none'} | ${kept.length} | ${same.filter(Boolean).length} / ${same.filter((s) => !s).length} | ${fmt(auc(scores, same), 4)} |`);
  }

  // pairs.csv again with most photos made worse, each in its own way (blurred, darkened,
  // overexposed, shrunk): where leaving out low-quality faces should pay.
  const worse: ((img: sharp.Sharp) => Promise<sharp.Sharp> | sharp.Sharp)[] = [
    (img) => img, (img) => img, (img) => img.blur(3), (img) => img.blur(6), (img) => img.blur(10), (img) => img.linear(0.25, 0),
    (img) => img.linear(0.12, 0), (img) => img.linear(1.6, 0),
    async (img) => { const { info, data } = await img.toBuffer({ resolveWithObject: true }); return sharp(data).resize({ width: Math.round(info.width / 6) }); },
  ];
  const degraded = new Map<string, Face | undefined>();
  const names = [...largest.keys()];
  for (const [i, f] of names.entries()) {
    const data = await (await worse[i % worse.length](sharp(readShared('faces', 'deepface', f)).rotate())).jpeg({ quality: 90 }).toBuffer();
    degraded.set(f, largestFace(await faces(data)));
  }
  console.log('\n| pairs.csv, photos made worse: left out with a face under | pairs kept | same / different | AUC |');
  console.log('|---|---|---|---|');
  for (const min of [0, 0.3, 0.5, 0.7]) {
    // A photo where no face was found counts as a score of -1 (a miss) when kept.
    const kept = pairs.filter((p) => [p.file_a, p.file_b].every((f) => min === 0 || (degraded.get(f)?.quality?.overall ?? 0) >= min));
    const emb = (f: string) => degraded.get(f)?.embedding;
    const scores = kept.map((p) => (emb(p.file_a) && emb(p.file_b) ? cosine(emb(p.file_a)!, emb(p.file_b)!) : -1));
    const same = kept.map((p) => p.same === '1');
    console.log(`| ${min || 'none'} | ${kept.length} | ${same.filter(Boolean).length} / ${same.filter((s) => !s).length} | ${fmt(auc(scores, same), 4)} |`);
  }
  console.log('untouched pairs.csv photos under 0.5:', names.filter((f) => (largest.get(f)?.quality?.overall ?? 0) < 0.5)
    .map((f) => `${f} ${JSON.stringify(largest.get(f)?.quality)}`).join(', ') || 'none');

  // The face-api.js crops (150-px faces of 8 people): every pair.
  const crops = readCsv('faces', 'face-api.js', 'identities.csv');
  const cropFaces = new Map<string, Face | undefined>();
  for (const r of crops) cropFaces.set(r.file, largestFace(await faces(readShared('faces', 'face-api.js', r.file))));
  console.log('\n| face-api.js crops, every pair: left out with a face under | pairs kept | same / different | AUC |');
  console.log('|---|---|---|---|');
  for (const min of [0, 0.3, 0.5, 0.7]) {
    const ok = crops.filter((r) => (cropFaces.get(r.file)?.quality?.overall ?? 0) >= min);
    const scores: number[] = [], same: boolean[] = [];
    ok.forEach((a, i) => ok.slice(i + 1).forEach((b) => {
      scores.push(cosine(cropFaces.get(a.file)!.embedding, cropFaces.get(b.file)!.embedding));
      same.push(a.identity === b.identity);
    }));
    console.log(`| ${min || 'none'} | ${scores.length} | ${same.filter(Boolean).length} / ${same.filter((x) => !x).length} | ${fmt(auc(scores, same), 4)} |`);
  }

  // 3. Portraits made worse: each step's mean score and cosine to the untouched photo.
  const portraits = ['img1.jpg', 'img2.jpg', 'img4.jpg', 'img5.jpg', 'img6.jpg', 'img7.jpg', 'img10.jpg', 'img11.jpg', 'img13.jpg', 'img14.jpg'];
  const base = new Map<string, Face>();
  for (const p of portraits) base.set(p, largestFace(await faces(readShared('faces', 'deepface', p)))!);
  type Step = { label: string; make: (img: sharp.Sharp, face: Face) => Promise<sharp.Sharp> | sharp.Sharp };
  const study = async (title: string, part: (f: Face) => string, steps: Step[]) => {
    console.log(`\n${title}\n| step | faces found | ${'part'} | overall | cosine to untouched |`);
    console.log('|---|---|---|---|---|');
    for (const s of steps) {
      const parts: string[] = [], overall: number[] = [], cos: number[] = [];
      let found = 0;
      for (const p of portraits) {
        const data = await (await s.make(sharp(readShared('faces', 'deepface', p)).rotate(), base.get(p)!)).jpeg({ quality: 95 }).toBuffer();
        const f = largestFace(await faces(data));
        if (!f) continue;
        found++;
        parts.push(part(f));
        overall.push(f.quality!.overall);
        cos.push(cosine(f.embedding, base.get(p)!.embedding));
      }
      console.log(`| ${s.label} | ${found}/${portraits.length} | ${parts.join(' ')} | ${fmt(overall.reduce((a, b) => a + b, 0) / found)} | ${fmt(cos.reduce((a, b) => a + b, 0) / found, 3)} |`);
    }
  };
  await study('Blur (Gaussian, sigma in pixels of the photo as sent; sharpness per photo)', (f) => fmt(f.quality!.sharpness),
    [0, 1, 2, 3, 4, 6, 8].map((sigma) => ({ label: `sigma ${sigma}`, make: (img: sharp.Sharp) => (sigma ? img.blur(sigma) : img) })));
  await study('Darkened (pixel values times k; brightness per photo)', (f) => fmt(f.quality!.brightness),
    [1, 0.5, 0.3, 0.2, 0.12, 0.08].map((k) => ({ label: `k ${k}`, make: (img: sharp.Sharp) => img.linear(k, 0) })));
  await study('Overexposed (pixel values times k, clipped at 255; brightness per photo)', (f) => fmt(f.quality!.brightness),
    [1.5, 2, 2.5, 3].map((k) => ({ label: `k ${k}`, make: (img: sharp.Sharp) => img.linear(k, 0) })));
  await study('Shrunk (face box side in pixels, in a 640x640 grey canvas; size per photo)', (f) => String(f.quality!.sizePx),
    [128, 96, 64, 48, 32, 24, 16].map((side) => ({
      label: `${side} px`,
      make: async (img: sharp.Sharp, face: Face) => {
        const box = face.box!;
        const k = side / Math.max(box.x2 - box.x1, box.y2 - box.y1);
        const { data, info } = await img.toBuffer({ resolveWithObject: true });
        const small = await sharp(data).resize({ width: Math.max(1, Math.round(k * info.width)) }).png().toBuffer();
        const canvas = Math.max(640, ...[info.width, info.height].map((v) => Math.ceil(k * v) + 200));
        return sharp({ create: { width: canvas, height: canvas, channels: 3, background: { r: 128, g: 128, b: 128 } } })
          .composite([{ input: small, left: 100, top: 100 }]);
      },
    })));
} finally {
  client.close();
  await server.stop();
}
