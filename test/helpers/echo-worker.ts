/**
 * A stand-in inference worker that answers every task with what it received: the result's
 * `width` is the byte length of the buffer behind the image's bytes (what the structured clone
 * copied), `height` the length of the bytes themselves. No models are loaded.
 */
import { parentPort } from 'node:worker_threads';
import type { TaskMessage, WorkerMessage } from '../../server/pool/messages.js';

const port = parentPort!;
port.on('message', (task: TaskMessage) => {
  const bytes = 'encoded' in task.image ? task.image.encoded : task.image.data;
  const msg: WorkerMessage = {
    type: 'result', id: task.id, left: 0,
    result: { faces: [], truncated: false, width: bytes.buffer.byteLength, height: bytes.length },
    timing: { busySeconds: 0, models: {}, onnxCpu: {} },
  };
  port.postMessage(msg);
});
port.postMessage({ type: 'ready', models: [] } satisfies WorkerMessage);
