/**
 * Issue 14: where the server's CPU goes, per thread, read from outside the process:
 * /proc/<pid>/task/<tid>/schedstat (CPU nanoseconds per thread) and comm (the thread's name,
 * set by server/thread-names.ts), and the workers' CPU inside ONNX Runtime by model role from
 * GET /metrics (facerest_onnx_cpu_seconds_total). CPU time, not wall-clock.
 */
import { readdirSync, readFileSync } from 'node:fs';

/** CPU seconds by thread kind. */
export interface CpuSample {
  /** The whole process (utime + stime of /proc/<pid>/stat: threads that have ended included). */
  total: number;
  /** The main thread: protocols, JSON, protobuf, the pool's scheduling. */
  main: number;
  /** libvips' threads and libuv's pool: decoding (and a face crop's JPEG when asked). */
  decode: number;
  /** The inference workers' threads, all of it (ONNX Runtime included). */
  worker: number;
  /** Inside ONNX Runtime, by model role ('preprocess': the detectors' input graphs). */
  onnx: Record<string, number>;
  /** Everything else: V8's helper threads (garbage collection, compilation), signal handling. */
  runtime: number;
}

function kind(pid: number, tid: string, name: string): 'main' | 'decode' | 'worker' | 'runtime' {
  if (tid === String(pid)) return 'main';
  if (name === 'facerest-infer') return 'worker';
  if (name === 'libuv-worker' || name.startsWith('libvips')) return 'decode';
  return 'runtime';
}

function read(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined; // the thread ended between the listing and the read
  }
}

async function onnxSeconds(baseUrl: string): Promise<Record<string, number>> {
  const text = await (await fetch(`${baseUrl}/metrics`)).text();
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^facerest_onnx_cpu_seconds_total\{role="([^"]+)"\} (\S+)$/gm)) out[m[1]] = Number(m[2]);
  return out;
}

/** The server's CPU so far; `baseUrl` for its /metrics. */
export async function sampleCpu(pid: number, baseUrl: string): Promise<CpuSample> {
  const sample: CpuSample = { total: 0, main: 0, decode: 0, worker: 0, onnx: await onnxSeconds(baseUrl), runtime: 0 };
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    const name = read(`/proc/${pid}/task/${tid}/comm`)?.trim();
    const stat = read(`/proc/${pid}/task/${tid}/schedstat`);
    if (name === undefined || stat === undefined) continue;
    sample[kind(pid, tid, name)] += Number(stat.split(' ')[0]) / 1e9;
  }
  // Fields 14 and 15 of /proc/PID/stat: user and system time in clock ticks (100 per second).
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  sample.total = (Number(fields[11]) + Number(fields[12])) / 100;
  return sample;
}

/** The split of one phase, in CPU milliseconds per image. */
export interface CpuSplit {
  main: number;
  decode: number;
  worker_outside_onnx: number;
  onnx: Record<string, number>;
  runtime: number;
  /** Threads that ended during the phase, and the difference in resolution of the two counts. */
  unattributed: number;
}

/** CPU ms per image between two samples, and its split. */
export function cpuPerImage(a: CpuSample, b: CpuSample, images: number): { total: number; split: CpuSplit } {
  const ms = (s: number) => 1000 * s / images;
  const onnx: Record<string, number> = {};
  let inOnnx = 0;
  for (const [role, s] of Object.entries(b.onnx)) {
    const d = s - (a.onnx[role] ?? 0);
    onnx[role] = ms(d);
    inOnnx += d;
  }
  const total = b.total - a.total;
  const main = b.main - a.main, decode = b.decode - a.decode, worker = b.worker - a.worker, runtime = b.runtime - a.runtime;
  return {
    total: ms(total),
    split: {
      main: ms(main), decode: ms(decode), worker_outside_onnx: ms(worker - inOnnx), onnx, runtime: ms(runtime),
      unattributed: ms(total - main - decode - worker - runtime),
    },
  };
}

export function formatSplit(total: number, s: CpuSplit): string {
  const onnx = Object.entries(s.onnx).map(([r, v]) => `${r} ${v.toFixed(1)}`).join(', ');
  return `server CPU ${total.toFixed(1)} ms/image: decode ${s.decode.toFixed(1)}, main ${s.main.toFixed(1)}, `
    + `worker outside ONNX ${s.worker_outside_onnx.toFixed(1)}, ONNX [${onnx}], runtime ${s.runtime.toFixed(1)}, `
    + `unattributed ${s.unattributed.toFixed(1)}`;
}
