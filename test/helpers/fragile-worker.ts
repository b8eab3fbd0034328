/**
 * The real inference worker, which dies (exit code 7) on the first task it receives after the
 * file named by FACEREST_TEST_DIE_ONCE appears; the file is removed, so it dies once. It exits
 * before the task reaches ONNX Runtime: ending a thread during an inference run aborts the
 * whole process (onnxruntime-node), which no pool can survive.
 */
import { renameSync } from 'node:fs';
import { parentPort } from 'node:worker_threads';

const marker = process.env.FACEREST_TEST_DIE_ONCE;
parentPort!.on('message', () => {
  if (!marker) return;
  try {
    renameSync(marker, `${marker}.used`);
  } catch {
    return; // no marker: behave
  }
  process.exit(7);
});
await import('../../server/pool/worker.js');
