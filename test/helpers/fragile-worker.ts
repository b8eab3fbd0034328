/**
 * The real inference worker, made to misbehave by marker files named in the environment. Each
 * misbehaviour happens before the task reaches ONNX Runtime: ending a thread during an inference
 * run aborts the whole process (onnxruntime-node), which no pool can survive.
 *
 * - FACEREST_TEST_DIE_ONCE: the first task after the file appears makes the worker exit (code
 *   7); the file is renamed, so it dies once.
 * - FACEREST_TEST_DIE: every task makes its worker exit (code 7) while the file exists.
 * - FACEREST_TEST_THROW_ONCE: the first task after the file appears throws an uncaught error
 *   (the Worker's 'error' event, then exit code 1).
 * - FACEREST_TEST_NO_START: while the file exists, a new worker exits (code 3) before loading.
 * - FACEREST_TEST_HANG_ONCE: the first task after the file appears blocks the thread for the
 *   number of milliseconds written in the file (a stuck native call), then runs normally.
 */
import { existsSync, readFileSync, renameSync } from 'node:fs';
import { parentPort } from 'node:worker_threads';

const env = process.env;

/** True once per appearance of the file. */
function takeOnce(marker: string | undefined): string | undefined {
  if (!marker) return undefined;
  try {
    const text = readFileSync(marker, 'utf8');
    renameSync(marker, `${marker}.used`);
    return text;
  } catch {
    return undefined; // no marker: behave
  }
}

if (env.FACEREST_TEST_NO_START && existsSync(env.FACEREST_TEST_NO_START)) process.exit(3);

parentPort!.on('message', () => {
  if (env.FACEREST_TEST_DIE && existsSync(env.FACEREST_TEST_DIE)) process.exit(7);
  if (takeOnce(env.FACEREST_TEST_DIE_ONCE) !== undefined) process.exit(7);
  if (takeOnce(env.FACEREST_TEST_THROW_ONCE) !== undefined) throw new Error('fragile worker: thrown on purpose');
  const hang = takeOnce(env.FACEREST_TEST_HANG_ONCE);
  if (hang !== undefined) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, Number(hang));
});
await import('../../server/worker/thread.js');
