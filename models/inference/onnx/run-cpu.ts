/**
 * CPU time of the calling thread, and the part of it spent inside ONNX Runtime's run, by label
 * (the model role, or 'preprocess' for the input graphs). CPU, not wall-clock: on a loaded
 * machine a preempted thread is not busy. Module state is per thread (each worker thread loads
 * its own copy), so the counts are this thread's own.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import type ort from 'onnxruntime-node';
import { loadAddon } from '../../../native/addons.js';

interface ThreadClock {
  /** The calling thread's CPU seconds (CLOCK_THREAD_CPUTIME_ID: native/clock/thread-cpu.c). */
  threadCpuSeconds(): number;
}

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
 * thread_group_cputime); Node 20 has no per-thread call. Both together cost 6 us in a loop and
 * about 17 between model runs (issue 14), which is why the C clock comes first where built.
 */
function procThreadCpuSeconds(): number {
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

/** Loaded once per thread, like every addon; FACEREST_NATIVE=off leaves /proc. */
const nativeClock = loadAddon<ThreadClock>('facerest_clock').addon;

/** This thread's CPU seconds so far; NaN where neither the C clock nor Linux's /proc is there. */
export const threadCpuSeconds: () => number = nativeClock ? nativeClock.threadCpuSeconds : procThreadCpuSeconds;

/** Whether this thread can count at all, asked once rather than with a reading per run. */
const counting = !Number.isNaN(threadCpuSeconds());

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
  if (!counting) return session.run(feeds);
  let start = NaN;
  setImmediate(() => { start = threadCpuSeconds(); });
  const out = await session.run(feeds);
  const used = threadCpuSeconds() - start;
  if (used >= 0) spent[label] = (spent[label] ?? 0) + used;
  return out;
}
