/**
 * `npm run bench [-- --seconds N] [--warmup S] [--concurrency C] [--photos original|640]
 * [--packs peer,default,scrfd500m_mfn128] [--json FILE]`: end-to-end throughput of the real server
 * (gRPC with @grpc/grpc-js, and the legacy POST /extract) on the shared photos at max_size 640,
 * against (a) the raw-model limit (the same sessions and worker count fed ready tensors) and (b) a
 * peer, @vladmandic/face-api on the WASM backend, on the same photos and cores. Run for the
 * default pack and for SCRFD-500M + MobileFaceNet-128.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { Worker } from 'node:worker_threads';
import { FaceGrpcClient } from '../clients/node/grpc-client.js';
import { ModelRole } from '../gen/facerest/v1/face_service_pb.js';
import { selectModels } from '../models/packs/select.js';
import { startServer, type TestServer } from '../test/helpers/server.js';
import { benchPhotos, benchPhotosAt, SHARED } from './photos.js';
import { cpuPerImage, formatSplit, sampleCpu, type CpuSplit } from './server-cpu.js';
import { percentile } from './stats.js';

const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '15' },
    // Seconds of the same load before each end-to-end phase is measured.
    warmup: { type: 'string', default: '3' },
    concurrency: { type: 'string', default: '8' },
    json: { type: 'string' },
    // 'original': the shared files as they are (up to 2048 px); '640': re-encoded once, before
    // the run, as JPEGs of at most 640 px (clients that send images already at max_size).
    photos: { type: 'string', default: 'original' },
    // Which packs to run, comma-separated keys (default,scrfd500m_mfn128); the peer is skipped
    // unless it is listed too ('peer'), so one pack can be measured quickly.
    packs: { type: 'string', default: 'peer,default,scrfd500m_mfn128' },
  },
});
const PACKS = new Set(args.packs!.split(','));
const SECONDS = Number(args.seconds);
const WARMUP_SECONDS = Number(args.warmup);
const CONCURRENCY = Number(args.concurrency);
const WORKERS = availableParallelism();
const MAX_SIZE = 640;
if (args.photos !== 'original' && args.photos !== '640') throw new Error('--photos must be original or 640');
const photos = args.photos === '640' ? await benchPhotosAt(MAX_SIZE) : benchPhotos();

interface Phase {
  images_per_s: number;
  faces_per_s: number;
  p50_ms?: number;
  p95_ms?: number;
  p99_ms?: number;
  server_cpu_cores?: number;
  server_peak_rss_mb?: number;
  // Issue 14: CPU per image, not wall-clock; the split by thread kind (bench/server-cpu.ts).
  server_cpu_ms_per_image?: number;
  server_cpu_split_ms_per_image?: CpuSplit;
  /** The raw phase: the models' own CPU per image, and by role; the mean of a run before and one after the server's phases. */
  raw_cpu_ms_per_image?: number;
  /** The two raw runs' CPU per image, before and after the server's phases. */
  raw_cpu_ms_per_image_runs?: [number, number];
  raw_onnx_cpu_ms_per_image?: Record<string, number>;
}

/** CPU seconds used so far by a process (utime + stime from /proc, in clock ticks of 1/100 s). */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

function peakRssMb(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

/** Runs `call` from CONCURRENCY loops for SECONDS; call resolves to the faces found. */
async function drive(server: TestServer, call: (i: number) => Promise<number>): Promise<Phase> {
  const pid = server.process.pid!;
  const latencies: number[] = [];
  let faces = 0;
  let next = 0;
  /** CONCURRENCY clients calling one after another until `until`; `record` sees each call's result. */
  const load = (until: number, record?: (found: number, ms: number) => void) => Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (performance.now() < until) {
      const t = performance.now();
      const found = await call(next++ % photos.length);
      record?.(found, performance.now() - t);
    }
  }));
  // The same load, not counted, so that V8's first compilations of the request path (on its
  // helper threads) are not. It covers the first seconds only: under gRPC load the compilations
  // fall off over about 40 s (bench/throughput-history.md, round ten), so a longer --warmup
  // comes closer to a server that has been running.
  await load(performance.now() + WARMUP_SECONDS * 1000);
  const cpu0 = cpuSeconds(pid);
  const sample0 = await sampleCpu(pid, server.baseUrl);
  const start = performance.now();
  await load(start + SECONDS * 1000, (found, ms) => {
    faces += found;
    latencies.push(ms);
  });
  const wall = (performance.now() - start) / 1000;
  const cpu = cpuPerImage(sample0, await sampleCpu(pid, server.baseUrl), latencies.length);
  return {
    images_per_s: latencies.length / wall,
    faces_per_s: faces / wall,
    p50_ms: percentile(latencies, 0.5),
    p95_ms: percentile(latencies, 0.95),
    p99_ms: percentile(latencies, 0.99),
    server_cpu_cores: (cpuSeconds(pid) - cpu0) / wall,
    server_peak_rss_mb: peakRssMb(pid),
    server_cpu_ms_per_image: cpu.total,
    server_cpu_split_ms_per_image: cpu.split,
  };
}

/** Runs `count` workers of `url` for SECONDS each (timed inside, after their start-up). */
function workers(url: URL, count: number, data: (i: number) => unknown): Promise<Phase> {
  type Result = { images: number; faces: number; cpuSeconds?: number; onnxCpu?: Record<string, number> };
  return Promise.all(Array.from({ length: count }, (_, i) => new Promise<Result>((resolve, reject) => {
    const w = new Worker(url, { workerData: data(i) });
    w.once('message', (m) => { resolve(m); void w.terminate(); });
    w.once('error', reject);
  }))).then((results) => {
    const images = results.reduce((s, r) => s + r.images, 0);
    const faces = results.reduce((s, r) => s + r.faces, 0);
    const phase: Phase = { images_per_s: images / SECONDS, faces_per_s: faces / SECONDS };
    if (results.every((r) => r.cpuSeconds !== undefined)) {
      phase.raw_cpu_ms_per_image = 1000 * results.reduce((s, r) => s + r.cpuSeconds!, 0) / images;
      phase.raw_onnx_cpu_ms_per_image = {};
      for (const r of results) {
        for (const [role, sec] of Object.entries(r.onnxCpu ?? {})) {
          phase.raw_onnx_cpu_ms_per_image[role] = (phase.raw_onnx_cpu_ms_per_image[role] ?? 0) + 1000 * sec / images;
        }
      }
    }
    return phase;
  });
}

/** An end-to-end phase's CPU per image inside ONNX Runtime running the models (the detectors' input graphs left out). */
function modelsCpu(p: Phase): number {
  return Object.entries(p.server_cpu_split_ms_per_image!.onnx).reduce((sum, [role, ms]) => (role === 'preprocess' ? sum : sum + ms), 0);
}

/** Two raw phases as one: each figure their mean, and the CPU of each run kept beside it. */
function meanOfRuns(a: Phase, b: Phase): Phase {
  const mean = (x: number, y: number) => (x + y) / 2;
  const roles = new Set([...Object.keys(a.raw_onnx_cpu_ms_per_image ?? {}), ...Object.keys(b.raw_onnx_cpu_ms_per_image ?? {})]);
  return {
    images_per_s: mean(a.images_per_s, b.images_per_s),
    faces_per_s: mean(a.faces_per_s, b.faces_per_s),
    raw_cpu_ms_per_image: mean(a.raw_cpu_ms_per_image!, b.raw_cpu_ms_per_image!),
    raw_cpu_ms_per_image_runs: [a.raw_cpu_ms_per_image!, b.raw_cpu_ms_per_image!],
    raw_onnx_cpu_ms_per_image: Object.fromEntries([...roles].map((r) =>
      [r, mean(a.raw_onnx_cpu_ms_per_image?.[r] ?? 0, b.raw_onnx_cpu_ms_per_image?.[r] ?? 0)])),
  };
}

function show(label: string, p: Phase) {
  const lat = p.p50_ms === undefined ? '' : `  p50 ${p.p50_ms.toFixed(1)} p95 ${p.p95_ms!.toFixed(1)} p99 ${p.p99_ms!.toFixed(1)} ms`;
  const srv = p.server_cpu_cores === undefined ? '' : `  server CPU ${p.server_cpu_cores.toFixed(2)} cores, peak RSS ${p.server_peak_rss_mb!.toFixed(0)} MB`;
  console.log(`  ${label.padEnd(22)} ${p.images_per_s.toFixed(1).padStart(7)} images/s ${p.faces_per_s.toFixed(1).padStart(7)} faces/s${lat}${srv}`);
  if (p.server_cpu_split_ms_per_image) console.log(`  ${''.padEnd(22)} ${formatSplit(p.server_cpu_ms_per_image!, p.server_cpu_split_ms_per_image)}`);
  if (p.raw_cpu_ms_per_image !== undefined) {
    const roles = Object.entries(p.raw_onnx_cpu_ms_per_image ?? {}).map(([r, v]) => `${r} ${v.toFixed(1)}`).join(', ');
    const runs = p.raw_cpu_ms_per_image_runs ? ` (before ${p.raw_cpu_ms_per_image_runs[0].toFixed(1)}, after ${p.raw_cpu_ms_per_image_runs[1].toFixed(1)})` : '';
    console.log(`  ${''.padEnd(22)} raw CPU ${p.raw_cpu_ms_per_image.toFixed(1)} ms/image${runs} (ONNX [${roles}])`);
  }
}

const configs: { name: string; key: string; env: Record<string, string> }[] = [
  { name: 'default pack', key: 'default', env: {} },
  {
    name: 'SCRFD-500M + MobileFaceNet-128', key: 'scrfd500m_mfn128', env: {
      FACEREST_DETECTOR: join(SHARED, 'models', 'scrfd', 'det_500m.onnx'),
      FACEREST_RECOGNIZER: join(SHARED, 'models', 'recognition', 'mobilefacenet_128d.onnx'),
    },
  },
];

console.log(`facerest bench: ${photos.length} photos from ../shared/faces (${args.photos}), max_size ${MAX_SIZE}, `
  + `${WORKERS} workers, ${CONCURRENCY} concurrent clients, ${SECONDS} s per phase`);
const report: Record<string, unknown> = { photo_set: args.photos, seconds: SECONDS, warmup_seconds: WARMUP_SECONDS, concurrency: CONCURRENCY, workers: WORKERS, photos: photos.length };

let peer: Phase | undefined;
if (PACKS.has('peer')) {
  console.log('peer: @vladmandic/face-api (WASM backend), same photos, same worker count');
  peer = await workers(new URL('./peer-worker.js', import.meta.url), WORKERS,
    () => ({ photos: photos.map((p) => p.data), seconds: SECONDS, options: { maxSize: MAX_SIZE } }));
  show('peer', peer);
  report.peer = peer;
  report.peer_images_per_s = peer.images_per_s;
}

for (const config of configs.filter((c) => PACKS.has(c.key))) {
  console.log(`${config.name}:`);
  const server = await startServer({ ...config.env, FACEREST_WORKERS: String(WORKERS) });
  const client = new FaceGrpcClient(server.address);
  try {
    const info = await client.info();
    const first = await client.extract({ images: photos.map((p) => ({ data: p.data })), options: { maxSize: MAX_SIZE } });
    const faceCounts = first.results.map((r) => r.faces.length);
    // The files the server chose, by the same rules; the landmark model only if it loaded one.
    const files = selectModels({ detectorPath: config.env.FACEREST_DETECTOR, recognizerPath: config.env.FACEREST_RECOGNIZER });
    const usesLandmarks = info.models.some((m) => m.role === ModelRole.LANDMARKS);
    const rawPhase = () => workers(new URL('./raw-worker.js', import.meta.url), WORKERS, () => ({
      detector: files.detector.path, landmarks: usesLandmarks ? files.landmarks?.path : undefined,
      recognizer: files.recognizer.path, faces: faceCounts, seconds: SECONDS,
    }));
    // The raw models run before and after the server's phases, and the ratios divide by their
    // mean: on a shared machine the models' own CPU per photo drifts with the neighbours' load
    // (7.1 to 9.9 ms a 640-px photo between runs, bench/throughput-history.md round ten), and one
    // raw phase after the server's put all of the drift in between into the ratio.
    const rawBefore = await rawPhase();
    const grpc = await drive(server, async (i) =>
      (await client.extract({ images: [{ data: photos[i].data }], options: { maxSize: MAX_SIZE } })).results[0].faces.length);
    const bodies = photos.map((p) => JSON.stringify({ images: { data: [p.data.toString('base64')] }, max_size: MAX_SIZE }));
    const rest = await drive(server, async (i) => {
      const res = await fetch(`${server.baseUrl}/extract`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: bodies[i] });
      return ((await res.json()) as unknown[][])[0].length;
    });
    const raw = meanOfRuns(rawBefore, await rawPhase());
    show('gRPC (grpc-js)', grpc);
    show('POST /extract', rest);
    show('raw models', raw);
    const ratios = {
      grpc_over_raw: grpc.images_per_s / raw.images_per_s,
      rest_over_raw: rest.images_per_s / raw.images_per_s,
      grpc_over_peer: peer ? grpc.images_per_s / peer.images_per_s : undefined,
      // Issue 14: server CPU per image over the raw models' CPU per image (target <= 1.5 at 640 px).
      grpc_cpu_over_raw: grpc.server_cpu_ms_per_image! / raw.raw_cpu_ms_per_image!,
      rest_cpu_over_raw: rest.server_cpu_ms_per_image! / raw.raw_cpu_ms_per_image!,
      // The server's CPU over its own models' CPU, both read in the same phase: what the server
      // adds to the models, free of the drift between phases that moves the ratios above.
      grpc_cpu_over_own_models: grpc.server_cpu_ms_per_image! / modelsCpu(grpc),
      rest_cpu_over_own_models: rest.server_cpu_ms_per_image! / modelsCpu(rest),
    };
    console.log(`  facerest/raw ${ratios.grpc_over_raw.toFixed(2)} (gRPC), ${ratios.rest_over_raw.toFixed(2)} (REST); `
      + `${peer ? `facerest/peer ${ratios.grpc_over_peer!.toFixed(1)}x; ` : ''}CPU per image over raw ${ratios.grpc_cpu_over_raw.toFixed(2)} (gRPC), `
      + `${ratios.rest_cpu_over_raw.toFixed(2)} (REST); over its own models' CPU ${ratios.grpc_cpu_over_own_models.toFixed(2)} (gRPC), `
      + `${ratios.rest_cpu_over_own_models.toFixed(2)} (REST)`);
    report[config.key] = { grpc, rest, raw, ...ratios };
    if (config.key === 'default') {
      report.e2e_images_per_s = grpc.images_per_s;
      report.raw_images_per_s = raw.images_per_s;
      report.server_cpu_ms_per_image = grpc.server_cpu_ms_per_image;
      report.raw_cpu_ms_per_image = raw.raw_cpu_ms_per_image;
    }
  } finally {
    client.close();
    await server.stop();
  }
}

if (args.json) {
  writeFileSync(args.json, JSON.stringify(report, null, 2) + '\n');
  console.log(`wrote ${args.json}`);
}
