/**
 * `npm run loadtest [-- --seconds 60] [--factor 2]`: overload on loopback. Measures the server's
 * capacity first (closed loop, 8 clients), then sends photos at `factor` times that rate, open
 * loop (arrivals do not wait for answers), over gRPC with a 10 s deadline, for a fixed time and
 * at most a fixed number of requests outstanding. Reports what was admitted and answered
 * correctly (the same faces as a quiet server finds), what was refused (RESOURCE_EXHAUSTED),
 * what failed, the latency of admitted requests, and the server's RSS. `npm test` runs a short
 * round and checks it.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import { FaceGrpcClient } from '../clients/node/grpc-client.js';
import { benchPhotos } from '../bench/photos.js';
import { startServer } from '../test/helpers/server.js';

export interface LoadReport {
  capacity_images_per_s: number;
  offered_per_s: number;
  seconds: number;
  sent: number;
  ok: number;
  refused: number;
  /** Answers with other faces than a quiet server gives for the same photo. */
  wrong: number;
  /** Calls that failed other than by refusal (deadline, crash, ...). */
  failed: number;
  failures: string[];
  p50_ms: number;
  p99_ms: number;
  max_ms: number;
  rss_start_mb: number;
  rss_peak_mb: number;
  server_alive: boolean;
}

export interface LoadOptions {
  address: string;
  pid: number;
  /** Seconds of the capacity measurement and of the overload. */
  calibrateSeconds: number;
  seconds: number;
  factor: number;
  /** Cap on requests outstanding from the load generator, so it stays bounded too. */
  maxOutstanding?: number;
  log?: (line: string) => void;
}

function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
}

const quantile = (sorted: number[], q: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] : 0);

export async function loadTest(o: LoadOptions): Promise<LoadReport> {
  const log = o.log ?? (() => undefined);
  const photos = benchPhotos().map((p) => p.data);
  const client = new FaceGrpcClient(o.address);
  try {
    // What a quiet server answers for each photo: the reference for correctness under load.
    const expected: number[] = [];
    for (const data of photos) expected.push((await client.extract({ images: [{ data }] })).results[0].faces.length);

    // Capacity: 8 clients in a closed loop.
    let done = 0;
    const calibrateEnd = Date.now() + o.calibrateSeconds * 1000;
    const started = Date.now();
    await Promise.all(Array.from({ length: 8 }, async (_, k) => {
      for (let i = k; Date.now() < calibrateEnd; i += 8) {
        await client.extract({ images: [{ data: photos[i % photos.length] }] });
        done++;
      }
    }));
    const capacity = done / ((Date.now() - started) / 1000);
    const rate = capacity * o.factor;
    log(`capacity ${capacity.toFixed(1)} images/s; offering ${rate.toFixed(1)}/s for ${o.seconds} s`);

    const report: LoadReport = {
      capacity_images_per_s: capacity, offered_per_s: rate, seconds: o.seconds, sent: 0, ok: 0, refused: 0, wrong: 0,
      failed: 0, failures: [], p50_ms: 0, p99_ms: 0, max_ms: 0, rss_start_mb: rssMb(o.pid), rss_peak_mb: 0, server_alive: true,
    };
    report.rss_peak_mb = report.rss_start_mb;
    const latencies: number[] = [];
    const outstanding = new Set<Promise<void>>();
    const maxOutstanding = o.maxOutstanding ?? 1000;
    const sampler = setInterval(() => {
      try {
        report.rss_peak_mb = Math.max(report.rss_peak_mb, rssMb(o.pid));
      } catch {
        report.server_alive = false;
      }
    }, 200);
    const end = Date.now() + o.seconds * 1000;
    const t0 = Date.now();
    try {
      for (let i = 0; Date.now() < end; i++) {
        // Open loop: request i leaves at t0 + i / rate, whatever happened to the ones before.
        const due = t0 + (i * 1000) / rate;
        if (due > Date.now()) await new Promise((r) => setTimeout(r, due - Date.now()));
        if (outstanding.size >= maxOutstanding) continue;
        const photo = i % photos.length;
        const sent = performance.now();
        report.sent++;
        const call: Promise<void> = client.extract({ images: [{ data: photos[photo] }] }, { deadline: 10_000 }).then(
          (res) => {
            latencies.push(performance.now() - sent);
            if (res.results[0].faces.length === expected[photo] && !res.results[0].error) report.ok++;
            else report.wrong++;
          },
          (err: grpc.ServiceError) => {
            if (err.code === grpc.status.RESOURCE_EXHAUSTED) report.refused++;
            else {
              report.failed++;
              if (report.failures.length < 10) report.failures.push(`${grpc.status[err.code]}: ${err.details}`);
            }
          },
        ).finally(() => outstanding.delete(call));
        outstanding.add(call);
      }
      await Promise.all(outstanding);
    } finally {
      clearInterval(sampler);
    }
    try {
      process.kill(o.pid, 0);
    } catch {
      report.server_alive = false;
    }
    latencies.sort((a, b) => a - b);
    report.p50_ms = quantile(latencies, 0.5);
    report.p99_ms = quantile(latencies, 0.99);
    report.max_ms = latencies[latencies.length - 1] ?? 0;
    log(`sent ${report.sent} in ${((Date.now() - t0) / 1000).toFixed(1)} s: ${report.ok} ok, ${report.refused} refused, `
      + `${report.wrong} wrong, ${report.failed} failed; admitted p50 ${report.p50_ms.toFixed(0)} ms, `
      + `p99 ${report.p99_ms.toFixed(0)} ms; RSS ${report.rss_start_mb.toFixed(0)} -> peak ${report.rss_peak_mb.toFixed(0)} MB`);
    return report;
  } finally {
    client.close();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { values } = parseArgs({
    options: {
      seconds: { type: 'string', default: '60' },
      factor: { type: 'string', default: '2' },
      calibrate: { type: 'string', default: '10' },
      json: { type: 'string' },
    },
  });
  const server = await startServer();
  try {
    const report = await loadTest({
      address: server.address, pid: server.process.pid!, seconds: Number(values.seconds),
      calibrateSeconds: Number(values.calibrate), factor: Number(values.factor), log: console.log,
    });
    console.log(JSON.stringify(report, null, 2));
    if (values.json) (await import('node:fs')).writeFileSync(values.json, JSON.stringify(report, null, 2));
    process.exitCode = report.server_alive && report.failed === 0 && report.wrong === 0 ? 0 : 1;
  } finally {
    await server.stop();
  }
}
