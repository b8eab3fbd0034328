/**
 * `npm run fuzz [-- --iterations N] [--seed S]`: mutates real JPEGs and PNGs from ../shared/faces
 * (bit flips, truncation, header edits, spliced and zeroed ranges) and sends them to a real
 * server over gRPC and POST /extract. Every answer must be well-formed (one result per image,
 * each an error message or faces inside the image), no call may hang, and the server must stay
 * up. Reproducible: the same seed makes the same inputs. `npm test` runs a short round.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { ImageErrorCode, type ImageResult } from '../gen/facerest/v1/face_service_pb.js';
import { FaceGrpcClient } from '../clients/node/grpc-client.js';
import { SHARED } from '../bench/photos.js';
import { startServer } from '../test/helpers/server.js';

export interface FuzzReport {
  images: number;
  /** Images answered with an error message (expected for most mutations). */
  refused: number;
  /** Images that still decoded, with their faces. */
  decoded: number;
  /** Broken promises: malformed answers, hangs, failed calls. Must be empty. */
  failures: string[];
}

/** Seeded PRNG (mulberry32): the same seed gives the same mutations. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The seed files: every JPEG and PNG of face-api.js's examples and a few deepface portraits. */
export function seedImages(): Buffer[] {
  const dir = join(SHARED, 'faces', 'face-api.js', 'examples', 'images');
  const files = readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => /\.(jpe?g|png)$/i.test(f)).sort();
  const portraits = ['img1.jpg', 'img5.jpg', 'img12.jpg'].map((f) => join(SHARED, 'faces', 'deepface', f));
  return [...files.map((f) => join(dir, f)), ...portraits].map((p) => readFileSync(p));
}

type Mutation = (data: Buffer, rnd: () => number) => Buffer;
const at = (rnd: () => number, n: number) => Math.floor(rnd() * n);

export const MUTATIONS: Record<string, Mutation> = {
  bitflips(data, rnd) {
    const out = Buffer.from(data);
    for (let i = 1 + at(rnd, 32); i > 0; i--) out[at(rnd, out.length)] ^= 1 << at(rnd, 8);
    return out;
  },
  truncate: (data, rnd) => data.subarray(0, at(rnd, data.length)),
  header(data, rnd) {
    // The first bytes hold the signature, dimensions, tables: the decoder's trust is there.
    const out = Buffer.from(data);
    for (let i = 1 + at(rnd, 8); i > 0; i--) out[at(rnd, Math.min(out.length, 512))] = at(rnd, 256);
    return out;
  },
  zeroed(data, rnd) {
    const out = Buffer.from(data);
    const start = at(rnd, out.length);
    out.fill(0, start, Math.min(out.length, start + 1 + at(rnd, 4096)));
    return out;
  },
  spliced(data, rnd) {
    const a = at(rnd, data.length);
    const b = at(rnd, data.length);
    return Buffer.concat([data.subarray(0, a), data.subarray(b, b + at(rnd, 8192)), data.subarray(a)]);
  },
};

function checkResult(r: ImageResult | undefined, label: string, failures: string[]): 'refused' | 'decoded' | undefined {
  if (!r) {
    failures.push(`${label}: no result`);
    return undefined;
  }
  if (r.error) {
    if (r.faces.length > 0) failures.push(`${label}: an error and faces`);
    if (!r.error.message || r.error.code === ImageErrorCode.UNSPECIFIED) failures.push(`${label}: an error without a code or message`);
    return 'refused';
  }
  for (const f of r.faces) {
    const b = f.box;
    const inside = b && b.x1 >= 0 && b.y1 >= 0 && b.x2 <= r.width + 1e-3 && b.y2 <= r.height + 1e-3 && b.x1 <= b.x2 && b.y1 <= b.y2;
    if (!inside || !Number.isFinite(f.score) || f.embedding.some((v) => !Number.isFinite(v))) {
      failures.push(`${label}: malformed face ${JSON.stringify({ box: b, score: f.score })}`);
    }
  }
  return 'decoded';
}

/** Sends `iterations` mutated images in batches of 8, every third batch over POST /extract. */
export async function fuzz(baseUrl: string, address: string, iterations: number, seed: number,
  log: (line: string) => void = () => undefined): Promise<FuzzReport> {
  const rnd = random(seed);
  const seeds = seedImages();
  const kinds = Object.keys(MUTATIONS);
  const client = new FaceGrpcClient(address);
  const report: FuzzReport = { images: 0, refused: 0, decoded: 0, failures: [] };
  const count = (outcome: 'refused' | 'decoded' | undefined) => { if (outcome) report[outcome]++; };
  try {
    for (let batch = 0; report.images < iterations; batch++) {
      const items = Array.from({ length: Math.min(8, iterations - report.images) }, () => {
        const kind = kinds[at(rnd, kinds.length)];
        return { kind, data: MUTATIONS[kind](seeds[at(rnd, seeds.length)], rnd) };
      });
      const label = (i: number) => `seed ${seed} batch ${batch} image ${i} (${items[i].kind})`;
      report.images += items.length;
      try {
        if (batch % 3 === 2) {
          const res = await fetch(`${baseUrl}/extract`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ images: { data: items.map((it) => it.data.toString('base64')) } }),
            signal: AbortSignal.timeout(30_000),
          });
          const json = await res.json() as unknown;
          if (res.status !== 200 || !Array.isArray(json) || json.length !== items.length || !json.every(Array.isArray)) {
            report.failures.push(`${label(0)}..: REST answered ${res.status} ${JSON.stringify(json).slice(0, 200)}`);
          } else {
            json.forEach((faces: unknown[]) => count(faces.length > 0 ? 'decoded' : 'refused'));
          }
        } else {
          const res = await client.extract({ images: items.map((it) => ({ data: it.data })) }, { deadline: 30_000 });
          if (res.results.length !== items.length) report.failures.push(`${label(0)}..: ${res.results.length} results`);
          res.results.forEach((r, i) => count(checkResult(r, label(i), report.failures)));
        }
      } catch (err) {
        report.failures.push(`${label(0)}..: call failed: ${(err as Error).message}`);
      }
      if (batch % 25 === 24) log(`${report.images} images: ${report.refused} refused, ${report.decoded} decoded, ${report.failures.length} failures`);
    }
    const health = await fetch(`${baseUrl}/healthz`).catch((err: Error) => err);
    if (health instanceof Error || health.status !== 200) report.failures.push('the server is not healthy after the run');
  } finally {
    client.close();
  }
  return report;
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { values } = parseArgs({ options: { iterations: { type: 'string', default: '2000' }, seed: { type: 'string', default: '1' } } });
  const server = await startServer();
  try {
    const report = await fuzz(server.baseUrl, server.address, Number(values.iterations), Number(values.seed), console.log);
    console.log(JSON.stringify({ ...report, failures: report.failures.length }, null, 2));
    for (const f of report.failures) console.log(`FAILURE ${f}`);
    if (server.process.exitCode !== null) report.failures.push(`the server exited (${server.process.exitCode})`);
    process.exitCode = report.failures.length === 0 ? 0 : 1;
  } finally {
    await server.stop();
  }
}
