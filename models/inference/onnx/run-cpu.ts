/**
 * CPU time of the calling thread, and the part of it spent inside ONNX Runtime's run, by label
 * (the model role, or 'preprocess' for the input graphs). CPU, not wall-clock: on a loaded
 * machine a preempted thread is not busy. Module state is per thread (each worker thread loads
 * its own copy), so the counts are this thread's own.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import type ort from 'onnxruntime-node';

let clock: number | undefined | null;
const buffer = Buffer.alloc(96);

/**
 * This thread's CPU seconds so far, from /proc/thread-self/schedstat (nanoseconds, where
 * /proc/.../stat only counts 10 ms ticks); NaN where Linux's /proc is not there. The file is
 * opened once per thread: /proc/thread-self resolves to the thread that opens it.
 *
 * Linux brings a running thread's count up to date only at a scheduler tick (every 4 ms here)
 * or a switch, so on its own a 1-ms run reads as 0 or 4 ms. getrusage(RUSAGE_SELF), which is
 * process.cpuUsage(), first adds the calling thread's pending time (the kernel's
 * thread_group_cputime); Node 20 has no per-thread call. Both together cost about 2.5 us
 * (measured here, 100,000 reads).
 */
export function threadCpuSeconds(): number {
  if (clock === undefined) {
    try {
      clock = openSync('/proc/thread-self/schedstat', 'r');
    } catch {
      clock = null;
    }
  }
  if (clock === null) return NaN;
  try {
    process.cpuUsage();
    const n = readSync(clock, buffer, 0, buffer.length, 0);
    return Number(buffer.toString('latin1', 0, n).split(' ', 1)[0]) / 1e9;
  } catch {
    closeSync(clock);
    clock = null;
    return NaN;
  }
}

let spent: Record<string, number> = {};

/** CPU seconds inside ONNX Runtime on this thread by label since the last call (then reset). */
export function takeOnnxCpu(): Record<string, number> {
  const taken = spent;
  spent = {};
  return taken;
}

/**
 * Runs `session` once, counting its CPU under `label`. onnxruntime-node runs a session
 * synchronously inside a setImmediate callback that session.run() schedules before it returns
 * (node_modules/onnxruntime-node/dist/backend.js); a setImmediate queued just before it runs
 * right before it, so the count starts there and not at the call, and leaves out whatever the
 * event loop does in between (a message with the next image, deserialised on this thread).
 */
export async function runCounted(session: ort.InferenceSession, label: string,
  feeds: ort.InferenceSession.FeedsType): Promise<ort.InferenceSession.ReturnType> {
  if (Number.isNaN(threadCpuSeconds())) return session.run(feeds);
  let start = NaN;
  setImmediate(() => { start = threadCpuSeconds(); });
  const out = await session.run(feeds);
  const used = threadCpuSeconds() - start;
  if (used >= 0) spent[label] = (spent[label] ?? 0) + used;
  return out;
}
