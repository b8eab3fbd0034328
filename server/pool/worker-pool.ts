/**
 * A fixed pool of inference workers. Each worker takes at most two tasks at a time (one running,
 * one queued beside it so it never idles between messages); the rest wait here in FIFO order.
 */
import { Worker } from 'node:worker_threads';
import type { ModelDescription, RgbImage } from '../../models/types.js';
import type { TaskTiming } from '../metrics.js';
import type { FaceQuery, FoundFace } from '../pipeline/faces.js';
import type { TaskMessage, WorkerMessage, WorkerModels } from './messages.js';

const PER_WORKER = 2;
/** The longest close() waits for images already in a worker (one image takes milliseconds). */
const CLOSE_WAIT_MS = 5000;
const WORKER_URL = new URL('./worker.js', import.meta.url);

interface Task {
  id: number;
  image: RgbImage;
  query: FaceQuery;
  resolve(faces: FoundFace[]): void;
  reject(err: Error): void;
}

interface Slot {
  worker: Worker;
  running: Map<number, Task>;
}

function spawn(models: WorkerModels, script: URL): Promise<{ worker: Worker; models: ModelDescription[] }> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(script, { workerData: models });
    const onMessage = (msg: WorkerMessage) => {
      if (msg.type === 'ready') {
        worker.off('message', onMessage).off('error', reject).off('exit', onExit);
        resolve({ worker, models: msg.models });
      } else if (msg.type === 'failed') {
        void worker.terminate();
        reject(new Error(msg.error));
      }
    };
    const onExit = (code: number) => reject(new Error(`inference worker exited during startup (code ${code})`));
    worker.on('message', onMessage).on('error', reject).on('exit', onExit);
  });
}

export class WorkerPool {
  private readonly slots: Slot[] = [];
  private readonly queue: Task[] = [];
  private nextId = 1;
  private closing = false;
  private onIdle?: () => void;
  /** Told how long each task took; set by whoever keeps the metrics. */
  onTask: (timing: TaskTiming) => void = () => undefined;

  private constructor(private readonly files: WorkerModels, private readonly script: URL, readonly models: ModelDescription[]) {}

  /**
   * Starts `size` workers; resolves once all have loaded and warmed their models. `script` is
   * the worker's module (tests run the real worker under a wrapper that can make it die).
   */
  static async start(files: WorkerModels, size: number, script: URL = WORKER_URL): Promise<WorkerPool> {
    const started = await Promise.allSettled(Array.from({ length: size }, () => spawn(files, script)));
    const failed = started.find((s) => s.status === 'rejected');
    if (failed) {
      await Promise.all(started.map((s) => s.status === 'fulfilled' && s.value.worker.terminate()));
      throw (failed as PromiseRejectedResult).reason;
    }
    const ok = started as PromiseFulfilledResult<{ worker: Worker; models: ModelDescription[] }>[];
    const pool = new WorkerPool(files, script, ok[0].value.models);
    for (const s of ok) pool.adopt(s.value.worker);
    return pool;
  }

  get size(): number {
    return this.slots.length;
  }

  /** Images waiting for a worker. */
  get queued(): number {
    return this.queue.length;
  }

  /**
   * Finds, aligns and embeds the faces of a decoded image, as the query asks. If `signal`
   * aborts while the image still waits for a worker, it leaves the queue and the promise
   * rejects with the signal's reason; an image already in a worker runs to the end.
   */
  run(image: RgbImage, query: FaceQuery, signal?: AbortSignal): Promise<FoundFace[]> {
    if (this.closing) return Promise.reject(new Error('the worker pool is shutting down'));
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise((resolve, reject) => {
      const task: Task = { id: this.nextId++, image, query, resolve, reject };
      if (signal) {
        const dequeue = () => {
          const at = this.queue.indexOf(task);
          if (at >= 0) {
            this.queue.splice(at, 1);
            reject(signal.reason);
          }
        };
        signal.addEventListener('abort', dequeue, { once: true });
        const settle = <T>(fn: (v: T) => void) => (v: T) => {
          signal.removeEventListener('abort', dequeue);
          fn(v);
        };
        task.resolve = settle(resolve);
        task.reject = settle(reject);
      }
      this.queue.push(task);
      this.pump();
    });
  }

  /**
   * Fails what still waits, lets the images already in a worker finish (terminating a thread
   * inside an ONNX Runtime call can take the process down with it), then ends the workers.
   */
  async close(): Promise<void> {
    this.closing = true;
    for (const t of this.queue.splice(0)) t.reject(new Error('the worker pool is shutting down'));
    if (this.running() > 0) {
      await new Promise<void>((resolve) => {
        this.onIdle = resolve;
        setTimeout(resolve, CLOSE_WAIT_MS).unref();
      });
    }
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
  }

  private running(): number {
    return this.slots.reduce((n, s) => n + s.running.size, 0);
  }

  private adopt(worker: Worker): void {
    const slot: Slot = { worker, running: new Map() };
    this.slots.push(slot);
    worker.on('message', (msg: WorkerMessage) => this.settle(slot, msg));
    worker.on('error', () => { /* reported through 'exit' */ });
    worker.on('exit', (code) => this.replace(slot, code));
    this.pump();
  }

  private settle(slot: Slot, msg: WorkerMessage): void {
    if (msg.type !== 'result' && msg.type !== 'error') return;
    const task = slot.running.get(msg.id);
    if (!task) return;
    slot.running.delete(msg.id);
    this.onTask(msg.timing);
    if (msg.type === 'result') task.resolve(msg.faces);
    else task.reject(new Error(msg.error));
    if (this.closing && this.running() === 0) this.onIdle?.();
    this.pump();
  }

  /** A worker that dies fails its own tasks (never hangs them) and is replaced. */
  private replace(slot: Slot, code: number): void {
    this.slots.splice(this.slots.indexOf(slot), 1);
    for (const t of slot.running.values()) t.reject(new Error(`inference worker exited (code ${code})`));
    slot.running.clear();
    if (this.closing) return;
    spawn(this.files, this.script).then(({ worker }) => this.adopt(worker), (err: Error) => {
      console.error(`facerest: could not replace an inference worker: ${err.message}`);
    });
  }

  private pump(): void {
    while (this.queue.length > 0) {
      let best: Slot | undefined;
      for (const s of this.slots) {
        if (s.running.size < PER_WORKER && (!best || s.running.size < best.running.size)) best = s;
      }
      if (!best) return;
      const task = this.queue.shift()!;
      best.running.set(task.id, task);
      const msg: TaskMessage = { id: task.id, image: task.image, query: task.query };
      const buf = task.image.data.buffer as ArrayBuffer;
      // Transfer the pixels when the view owns its whole buffer. sharp's output is external
      // memory that V8 will not detach, so for decoded images postMessage copies instead
      // (checked: the view keeps its length after postMessage, so the pixels were copied).
      const transferable = task.image.data.byteOffset === 0 && task.image.data.byteLength === buf.byteLength;
      best.worker.postMessage(msg, transferable ? [buf] : []);
    }
  }
}
