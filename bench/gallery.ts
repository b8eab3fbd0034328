/**
 * `npm run bench:gallery -- --faces N [--backend embedded|postgres] [--faces-per-subject F] [--queries Q]`
 *
 * The gallery's store without the models (extraction excluded): enrolment of given embeddings
 * (one addFaces per subject, as one Enroll call writes), search latency, recall@1 and recall@10
 * of subjects against an exact float scan done here, time to open a store holding N faces, and
 * memory and disk per face. Vectors are random 512-d unit vectors: the worst case for an index
 * (real faces cluster). Queries: half near a stored face (a new photo of someone enrolled), half
 * random (a stranger). The embedded backend's baseline is the exact JavaScript float scan,
 * timed in the same run.
 */
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { SqliteStore } from '../server/gallery/embedded/sqlite-store.js';
import { PostgresStore } from '../server/gallery/postgres/pg-store.js';
import type { GalleryStore } from '../server/gallery/store.js';
import { startPostgres } from '../test/helpers/postgres.js';
import { seededRandom } from '../test/helpers/seeded.js';
import { percentile } from './stats.js';
import { startServer } from '../test/helpers/server.js';

const { values } = parseArgs({
  options: {
    faces: { type: 'string', default: '100000' },
    backend: { type: 'string', default: 'embedded' },
    'faces-per-subject': { type: 'string', default: '10' },
    queries: { type: 'string', default: '300' },
    json: { type: 'boolean', default: false },
  },
});
const N = Number(values.faces);
const PER = Number(values['faces-per-subject']);
const Q = Number(values.queries);
const DIM = 512;
const backend = values.backend;
if (backend !== 'embedded' && backend !== 'postgres') throw new Error('--backend must be embedded or postgres');

const next = seededRandom(12345);
const rnd = () => next() - 0.5;
function unit(base?: Float32Array, spread = 1): Float32Array {
  const v = new Float32Array(DIM);
  for (let i = 0; i < DIM; i++) v[i] = (base ? base[i] : 0) + spread * rnd();
  let n = 0;
  for (let i = 0; i < DIM; i++) n += v[i] * v[i];
  n = Math.sqrt(n);
  for (let i = 0; i < DIM; i++) v[i] /= n;
  return v;
}

const mb = (bytes: number) => bytes / 2 ** 20;
function dirBytes(dir: string): number {
  return readdirSync(dir).reduce((sum, f) => sum + statSync(join(dir, f)).size, 0);
}

async function timeToServing(env: Record<string, string>): Promise<number> {
  const start = performance.now();
  const server = await startServer(env);
  const seconds = (performance.now() - start) / 1000;
  await server.stop();
  return seconds;
}

async function main() {
  const dir = mkdtempSync(join(tmpdir(), 'facerest-bench-gallery-'));
  const pg = backend === 'postgres' ? await startPostgres() : undefined;
  const open = (): Promise<GalleryStore> => (pg ? PostgresStore.open(pg.url) : SqliteStore.open(dir));
  let store = await open();
  const rssStart = process.memoryUsage().rss;
  await store.createCollection({ name: 'bench', recognizer: { name: 'random', sha256: '0'.repeat(64), dim: DIM }, keepCrops: false });

  // All vectors kept here too, for the exact reference scan.
  const all = new Float32Array(N * DIM);
  const subjectOf: string[] = [];
  const started = performance.now();
  for (let s = 0; s * PER < N; s++) {
    const faces = [];
    const centre = unit();
    for (let k = 0; k < PER && s * PER + k < N; k++) {
      const v = unit(centre, 0.05);
      all.set(v, (s * PER + k) * DIM);
      subjectOf.push(`s${s}`);
      faces.push({ embedding: v });
    }
    await store.addFaces('bench', `s${s}`, faces);
    if (s % 1000 === 0) process.stderr.write(`\renrolled ${s * PER} of ${N}`);
  }
  const enrolSeconds = (performance.now() - started) / 1000;
  process.stderr.write('\n');

  // Queries: a new photo of an enrolled person, or a stranger.
  const row = (r: number) => all.subarray(r * DIM, (r + 1) * DIM);
  const queries = Array.from({ length: Q }, (_, i) => (i % 2 === 0 ? unit(row(Math.floor((rnd() + 0.5) * N)), 0.05) : unit()));
  const exact = (q: Float32Array, k: number): { subjects: string[]; ms: number } => {
    const t = performance.now();
    const best = new Map<string, number>();
    for (let r = 0; r < N; r++) {
      let d = 0;
      const at = r * DIM;
      for (let i = 0; i < DIM; i++) d += all[at + i] * q[i];
      const s = subjectOf[r];
      if (d > (best.get(s) ?? -2)) best.set(s, d);
    }
    const subjects = [...best].sort((a, b) => b[1] - a[1]).slice(0, k).map((e) => e[0]);
    return { subjects, ms: performance.now() - t };
  };

  const latencies: number[] = [];
  let hit1 = 0, hit10 = 0, total10 = 0;
  const exactMs: number[] = [];
  for (const [i, q] of queries.entries()) {
    const t = performance.now();
    const [got] = await store.search('bench', [q], 10, -1);
    latencies.push(performance.now() - t);
    if (i < 50) {
      const ref = exact(q, 10);
      exactMs.push(ref.ms);
      if (got[0]?.subject === ref.subjects[0]) hit1++;
      const found = new Set(got.map((m) => m.subject));
      hit10 += ref.subjects.filter((s) => found.has(s)).length;
      total10 += ref.subjects.length;
    }
  }
  const rss = process.memoryUsage().rss;

  await store.close();
  const reopenStart = performance.now();
  store = await open();
  const openSeconds = (performance.now() - reopenStart) / 1000;
  await store.search('bench', [queries[0]], 1, -1);
  await store.close();
  const disk = pg ? undefined : dirBytes(dir);
  // The whole server on this gallery: models and store load together; ready = SERVING.
  const serveSeconds = await timeToServing(pg ? pg.env : { FACEREST_DATA_DIR: dir });

  const result = {
    backend, faces: N, faces_per_subject: PER, dim: DIM,
    enrol_per_second: Math.round(N / enrolSeconds),
    search_ms_p50: Number(percentile(latencies, 0.5).toFixed(2)),
    search_ms_p99: Number(percentile(latencies, 0.99).toFixed(2)),
    exact_js_scan_ms_p50: Number(percentile(exactMs, 0.5).toFixed(2)),
    speedup_vs_js_scan: Number((percentile(exactMs, 0.5) / percentile(latencies, 0.5)).toFixed(1)),
    recall_at_1: Number((hit1 / Math.min(50, Q)).toFixed(4)),
    recall_at_10: Number((hit10 / total10).toFixed(4)),
    open_seconds: Number(openSeconds.toFixed(2)),
    server_start_to_serving_seconds: Number(serveSeconds.toFixed(2)),
    rss_mb: Math.round(mb(rss)),
    rss_bytes_per_face: Math.round((rss - rssStart - all.byteLength) / N),
    disk_bytes_per_face: disk === undefined ? null : Math.round(disk / N),
  };
  if (values.json) console.log(JSON.stringify(result));
  else {
    console.log(`gallery bench: ${backend}, ${N} faces (${PER} per subject), ${DIM}-d random unit vectors`);
    console.log(`  enrol         ${result.enrol_per_second} embeddings/s (one addFaces per subject, durable on return)`);
    console.log(`  search        p50 ${result.search_ms_p50} ms, p99 ${result.search_ms_p99} ms (top 10 subjects); exact JS scan p50 ${result.exact_js_scan_ms_p50} ms: ${result.speedup_vs_js_scan}x`);
    console.log(`  recall        @1 ${result.recall_at_1}, @10 ${result.recall_at_10} (against the exact scan, 50 queries)`);
    console.log(`  open          ${result.open_seconds} s with ${N} faces stored (load and index); the server: ${result.server_start_to_serving_seconds} s from start to serving`);
    console.log(`  memory        RSS ${result.rss_mb} MB, ${result.rss_bytes_per_face} bytes per face over the bench's own copy`);
    console.log(`  disk          ${result.disk_bytes_per_face ?? 'n/a (PostgreSQL)'} bytes per face`);
  }
  await pg?.stop();
  rmSync(dir, { recursive: true, force: true });
}

await main();
