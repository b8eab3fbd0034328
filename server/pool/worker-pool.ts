/**
 * A fixed pool of inference workers. Each worker takes at most two tasks at a time (one running,
 * one queued beside it so it never idles between messages); the rest wait here in FIFO order.
 */
import { Worker } from 'node:worker_threads';
import type { ModelDescription, RgbImage } from '../../models/types.js';
import type { FaceQuery, FoundFace } from '../pipeline/faces.js';
import type { TaskMessage, WorkerMessage, WorkerModels } from './messages.js';

const PER_WORKER = 2;
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

function spawn(models: WorkerModels): Promise<{ worker: Worker; models: ModelDescription[] }> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(WORKER_URL, { workerData: models });
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

  private constructor(private readonly files: WorkerModels, readonly models: ModelDescription[]) {}

  /** Starts `size` workers; resolves once all have loaded and warmed their models. */
  static async start(files: WorkerModels, size: number): Promise<WorkerPool> {
    const started = await Promise.allSettled(Array.from({ length: size }, () => spawn(files)));
    const failed = started.find((s) => s.status === 'rejected');
    if (failed) {
      await Promise.all(started.map((s) => s.status === 'fulfilled' && s.value.worker.terminate()));
      throw (failed as PromiseRejectedResult).reason;
    }
    const ok = started as PromiseFulfilledResult<{ worker: Worker; models: ModelDescription[] }>[];
    const pool = new WorkerPool(files, ok[0].value.models);
    for (const s of ok) pool.adopt(s.value.worker);
    return pool;
  }

  get size(): number {
    return this.slots.length;
  }

  /** Finds, aligns and embeds the faces of a decoded image, as the query asks. */
  run(image: RgbImage, query: FaceQuery): Promise<FoundFace[]> {
    if (this.closing) return Promise.reject(new Error('the worker pool is shutting down'));
    return new Promise((resolve, reject) => {
      this.queue.push({ id: this.nextId++, image, query, resolve, reject });
      this.pump();
    });
  }

  async close(): Promise<void> {
    this.closing = true;
    for (const t of this.queue.splice(0)) t.reject(new Error('the worker pool is shutting down'));
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
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
    if (msg.type === 'result') task.resolve(msg.faces);
    else task.reject(new Error(msg.error));
    this.pump();
  }

  /** A worker that dies fails its own tasks (never hangs them) and is replaced. */
  private replace(slot: Slot, code: number): void {
    this.slots.splice(this.slots.indexOf(slot), 1);
    for (const t of slot.running.values()) t.reject(new Error(`inference worker exited (code ${code})`));
    slot.running.clear();
    if (this.closing) return;
    spawn(this.files).then(({ worker }) => this.adopt(worker), (err: Error) => {
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
