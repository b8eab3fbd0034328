/**
 * Issue 13, part 2: verification AUC on ../shared/faces/deepface/pairs.csv (largest face,
 * cosine) with the real server and the default pack at several max_size values, and the
 * small-face cosines of test/original-pixels.test.ts.
 *   node dist/bench/max-size-auc.js [160 320 640 ...]
 */
import { performance } from 'node:perf_hooks';
import sharp from 'sharp';
import { FaceGrpcClient } from '../clients/node/grpc-client.js';
import { largestFace } from '../clients/similarity.js';
import { readCsv, readShared } from '../test/helpers/data.js';
import { auc, bestAccuracy, cosine } from '../test/helpers/roc.js';
import { startServer } from '../test/helpers/server.js';

const sizes = process.argv.slice(2).map(Number);
const pairs = readCsv('faces', 'deepface', 'pairs.csv');
const files = [...new Set(pairs.flatMap((p) => [p.file_a, p.file_b]))];
const same = pairs.map((p) => p.same === '1');
const server = await startServer({});
const client = new FaceGrpcClient(server.address);
try {
  console.log('| max_size | pairs AUC | best accuracy @ cosine | seconds |');
  console.log('|---|---|---|---|');
  for (const maxSize of sizes.length ? sizes : [160, 320, 640]) {
    const start = performance.now();
    const emb = new Map<string, number[]>();
    for (let i = 0; i < files.length; i += 16) {
      const batch = files.slice(i, i + 16);
      const res = await client.extract({ images: batch.map((f) => ({ data: readShared('faces', 'deepface', f) })), options: { maxSize } });
      res.results.forEach((r, j) => emb.set(batch[j], largestFace(r.faces)?.embedding ?? []));
    }
    const scores = pairs.map((p) => (emb.get(p.file_a)!.length && emb.get(p.file_b)!.length ? cosine(emb.get(p.file_a)!, emb.get(p.file_b)!) : -1));
    const best = bestAccuracy(scores, same);
    console.log(`| ${maxSize} | ${auc(scores, same).toFixed(4)} | ${(100 * best.accuracy).toFixed(1)}% @ ${best.threshold.toFixed(3)} | ${((performance.now() - start) / 1000).toFixed(1)} |`);
  }
  const cos: string[] = [];
  for (const file of ['img1.jpg', 'img2.jpg', 'img4.jpg', 'img5.jpg']) {
    const alone = await sharp(readShared('faces', 'deepface', file)).rotate().resize({ width: 600 }).jpeg({ quality: 95 }).toBuffer();
    const canvas = await sharp({ create: { width: 4000, height: 3000, channels: 3, background: { r: 128, g: 128, b: 128 } } })
      .composite([{ input: alone, left: 1700, top: 1200 }]).jpeg({ quality: 95 }).toBuffer();
    const at = async (data: Buffer, maxSize: number) => largestFace((await client.extract({ images: [{ data }], options: { maxSize } })).results[0].faces)!.embedding;
    const ref = await at(alone, 640);
    cos.push(`${file}: ${cosine(ref, await at(canvas, 640)).toFixed(3)} (max_size 0: ${cosine(ref, await at(canvas, 0)).toFixed(3)})`);
  }
  console.log(`small faces (600-px photo in a 4000x3000 canvas at max_size 640, cosine to the photo alone): ${cos.join(', ')}`);
} finally {
  client.close();
  await server.stop();
}
