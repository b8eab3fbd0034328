/**
 * Names this process's threads in /proc (what `top -H`, `ps -L` and the bench read): the
 * inference workers 'facerest-infer', libuv's pool 'libuv-worker' (the name libuv 1.50 and later
 * give it themselves; Node 20 bundles 1.46, where they are plain 'node' like V8's own helper
 * threads). libvips names its threads 'libvips worker' itself. Best effort: where /proc is
 * missing or read-only nothing changes.
 */
import { writeFileSync } from 'node:fs';
import { readlink, writeFile } from 'node:fs/promises';

/** Linux keeps 15 bytes of a thread's name. */
const NAME_BYTES = 15;

/** Names the calling thread. */
export function nameThisThread(name: string): void {
  try {
    writeFileSync('/proc/thread-self/comm', name.slice(0, NAME_BYTES));
  } catch { /* not Linux, or /proc read-only: names are only for observers */ }
}

/**
 * Names the threads of libuv's pool. /proc/thread-self, read on a pool thread (an async
 * readlink runs there), names that thread's task; a few rounds of concurrent readlinks meet
 * every pool thread (one to four rounds of 8 for the default 4 threads, measured here).
 */
export async function nameLibuvThreads(name = 'libuv-worker'): Promise<void> {
  // libuv's own default and bounds for the pool's size.
  const size = Math.min(1024, Math.max(1, Number(process.env.UV_THREADPOOL_SIZE) || 4));
  const seen = new Set<string>();
  try {
    for (let round = 0; round < 20 && seen.size < size; round++) {
      for (const task of await Promise.all(Array.from({ length: 2 * size }, () => readlink('/proc/thread-self')))) seen.add(task);
    }
    // A task of the same process may rename its siblings.
    await Promise.all([...seen].map((task) => writeFile(`/proc/${task}/comm`, name.slice(0, NAME_BYTES))));
  } catch { /* as nameThisThread */ }
}
