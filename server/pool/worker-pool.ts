/**
 * A fixed pool of inference workers. Each worker takes at most two tasks at a time (one running,
 * one queued beside it so it never idles between messages), not counting images with many faces,
 * which share the worker's time with the others (see server/worker/thread.ts); the rest wait here, one queue
 * per call (an Extract request, a stream), served round-robin so that a call with many images
 * cannot keep the workers from everyone else.
 *
 * Failures are never silent: a worker that throws or exits fails its own tasks and is replaced,
 * with retries and backoff when the replacement cannot start; while no worker is alive, queued
 * and new work fails at once with 'unavailable' (and `onAlive` tells the health service). A task
 * that runs far longer than any model can is failed by a watchdog and its worker taken out of
 * rotation; the worker is not terminated while it is busy (ending a thread inside an ONNX
 * Runtime run aborts the whole process), only once it finishes, and a replacement starts at once.
 */
import { setFlagsFromString } from 'node:v8';
import { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import type { ModelDescription } from '../../models/inference/types.js';
import { ServiceError } from '../errors.js';
import type { TaskTiming } from '../metrics.js';
import type { FaceQuery } from '../worker/faces.js';
import { ImageError } from '../pipeline/decode.js';
import type { TaskImage, TaskMessage, TaskResult, WorkerMessage, WorkerSetup } from './messages.js';

const PER_WORKER = 2;
/** The longest close() waits for images already in a worker (one image takes milliseconds). */
const CLOSE_WAIT_MS = 5000;
const WORKER_URL = new URL('../worker/thread.js', import.meta.url);
/**
 * Room for the old generation that each worker's V8 heap starts with (FACEREST_WORKER_OLD_SPACE_MB).
 * With V8's default, a worker (9 MB live) had its old-generation limit about as far above that as
 * its young generation is large, so the scavenges that the decoded images' buffers set off each
 * began a full collection: one per 12 photos per worker, most of V8's 2.3 ms of helper-thread CPU
 * per photo. With 64 MB: 3 in 25 s (1,881 photos, 640-px set, default pack, gRPC), 1 ms less CPU
 * a photo; 32 MB changed nothing, 96 and 128 no more than 64. The price is memory: garbage (and
 * the decoded images it holds) waits longer, peak RSS in `npm run bench` +80 MB at 640 px and
 * +155 MB on the original photos.
 */
export const DEFAULT_WORKER_OLD_SPACE_MB = 64;
/** Replacement attempts: the first at once, then doubling delays up to the cap. */
const RESPAWN_FIRST_DELAY_MS = 250;
const RESPAWN_MAX_DELAY_MS = 30_000;

export const NO_WORKER_MESSAGE = 'no inference worker is running; retry shortly';

/**
 * The bytes in a buffer of their own (see compact), or nearly: a view that fills all but a
 * sixteenth of its buffer (a one-image call's body, its envelope and fields around the image)
 * is posted as it is, which copies those few bytes more instead of the whole image once more on
 * the main thread. Others are copied by the Uint8Array constructor: a Buffer's slice() is a
 * view, so it kept the whole body (protobuf-es reads bytes fields of a Buffer as Buffers).
 */
function own(bytes: Uint8Array): Uint8Array {
  return bytes.buffer.byteLength - bytes.byteLength <= bytes.byteLength / 16 ? bytes : new Uint8Array(bytes);
}

/**
 * The image with its bytes in a buffer of their own. A structured clone copies a typed array's
 * whole underlying buffer, and a request's images are views into its body: without this, a
 * 30 MB request of 256 images was copied whole into a worker for each of them
 * (test/worker-messages.test.ts).
 */
function compact(image: TaskImage): TaskImage {
  return 'encoded' in image ? { ...image, encoded: own(image.encoded) } : { ...image, data: own(image.data) };
}

/** A task failed by the watchdog; its message is safe to show to the caller. */
export class TaskTimeoutError extends Error {}

export interface PoolOptions {
  /** The worker's module (tests run the real worker under a wrapper that can make it misbehave). */
  script?: URL;
  /** Where worker failures are logged; silent without one. */
  log?: Logger;
  /** A task running longer than this is failed and its worker retired (default 60 s). */
  taskTimeoutMs?: number;
  /** DEFAULT_WORKER_OLD_SPACE_MB unless given; 0 leaves V8's default. */
  initialOldSpaceMb?: number;
}

interface Task {
  id: number;
  call: object;
  image: TaskImage;
  query: FaceQuery;
  resolve(result: TaskResult): void;
  reject(err: Error): void;
}

interface Slot {
  worker: Worker;
  running: Map<number, Task>;
  /** Tasks with many faces, which share the worker's time with the others (see server/worker/thread.ts). */
  heavy: Set<number>;
  /** When the worker last sent a message, or was given work while idle. */
  lastHeard: number;
}

function spawn(setup: WorkerSetup, script: URL): Promise<{ worker: Worker; models: ModelDescription[] }> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(script, { workerData: setup });
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
  /** Waiting tasks by call; Map order is the round-robin order (a served call moves to the end). */
  private readonly calls = new Map<object, Task[]>();
  private waiting = 0;
  private nextId = 1;
  private closing = false;
  private onIdle?: () => void;
  /** Workers taken out of rotation while busy; each is ended once it finishes. */
  private readonly retired = new Set<Worker>();
  /** No worker has been alive since the last one was lost. */
  private down = false;
  private readonly respawnTimers = new Set<NodeJS.Timeout>();
  private readonly watchdog: NodeJS.Timeout;
  private readonly log?: Logger;
  private readonly taskTimeoutMs: number;
  /** Told how long each task took; set by whoever keeps the metrics. */
  onTask: (timing: TaskTiming) => void = () => undefined;
  /** Told when the pool goes from some live workers to none, and back. */
  onAlive: (alive: boolean) => void = () => undefined;

  private constructor(private readonly setup: WorkerSetup, private readonly script: URL, readonly models: ModelDescription[],
    options: PoolOptions) {
    this.log = options.log;
    this.taskTimeoutMs = options.taskTimeoutMs ?? 60_000;
    this.watchdog = setInterval(() => this.checkStuck(), Math.max(50, Math.min(1000, this.taskTimeoutMs / 4)));
    this.watchdog.unref();
  }

  /**
   * Starts `size` workers; resolves once all have loaded and warmed their models.
   */
  static async start(setup: WorkerSetup, size: number, options: PoolOptions = {}): Promise<WorkerPool> {
    const script = options.script ?? WORKER_URL;
    // V8 reads it as each isolate is made: set before any worker, it applies to the workers
    // (and to nothing else: the main thread's heap exists already). Set even when 0, V8's own
    // "unset", so that a pool started after another in the same process gets what it asks for.
    setFlagsFromString(`--initial-old-space-size=${options.initialOldSpaceMb ?? DEFAULT_WORKER_OLD_SPACE_MB}`);
    const started = await Promise.allSettled(Array.from({ length: size }, () => spawn(setup, script)));
    const failed = started.find((s) => s.status === 'rejected');
    if (failed) {
      await Promise.all(started.map((s) => s.status === 'fulfilled' && s.value.worker.terminate()));
      throw (failed as PromiseRejectedResult).reason;
    }
    const ok = started as PromiseFulfilledResult<{ worker: Worker; models: ModelDescription[] }>[];
    const pool = new WorkerPool(setup, script, ok[0].value.models, options);
    for (const s of ok) pool.adopt(s.value.worker);
    return pool;
  }

  /** Workers in rotation. */
  get size(): number {
    return this.slots.length;
  }

  /** Whether any worker can take work. */
  get alive(): boolean {
    return this.slots.length > 0;
  }

  /** Images waiting for a worker. */
  get queued(): number {
    return this.waiting;
  }

  /**
   * Finds, aligns and embeds the faces of an image, as the query asks; an encoded image is
   * decoded by the worker, and one it cannot decode rejects with its ImageError. Images of the
   * same `call` share that call's turn with every other call. If `signal` aborts while the
   * image still waits for a worker, it leaves the queue and the promise rejects with the
   * signal's reason; an image already in a worker runs to the end. With no worker alive it
   * rejects with an 'unavailable' ServiceError.
   */
  run(image: TaskImage, query: FaceQuery, signal?: AbortSignal, call: object = {}): Promise<TaskResult> {
    if (this.closing) return Promise.reject(new ServiceError('unavailable', 'the server is shutting down'));
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (!this.alive) return Promise.reject(new ServiceError('unavailable', NO_WORKER_MESSAGE));
    return new Promise((resolve, reject) => {
      const task: Task = { id: this.nextId++, call, image: compact(image), query, resolve, reject };
      if (signal) {
        const dequeue = () => {
          if (this.unqueue(task)) reject(signal.reason);
        };
        signal.addEventListener('abort', dequeue, { once: true });
        const settle = <T>(fn: (v: T) => void) => (v: T) => {
          signal.removeEventListener('abort', dequeue);
          fn(v);
        };
        task.resolve = settle(resolve);
        task.reject = settle(reject);
      }
      this.enqueue(task);
      this.pump();
    });
  }

  /**
   * Fails what still waits, lets the images already in a worker finish (terminating a thread
   * inside an ONNX Runtime call can take the process down with it), then ends the workers.
   */
  async close(): Promise<void> {
    this.closing = true;
    clearInterval(this.watchdog);
    for (const t of this.respawnTimers) clearTimeout(t);
    this.failQueued(() => new ServiceError('unavailable', 'the server is shutting down'));
    if (this.running() > 0) {
      await new Promise<void>((resolve) => {
        this.onIdle = resolve;
        setTimeout(resolve, CLOSE_WAIT_MS).unref();
      });
    }
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
  }

  /** Workers out of rotation that still run a task past the time limit. */
  get stuck(): number {
    return this.retired.size;
  }

  private enqueue(task: Task, front = false): void {
    let line = this.calls.get(task.call);
    if (!line) this.calls.set(task.call, line = []);
    if (front) line.unshift(task);
    else line.push(task);
    this.waiting++;
  }

  private unqueue(task: Task): boolean {
    const line = this.calls.get(task.call);
    const at = line ? line.indexOf(task) : -1;
    if (at < 0) return false;
    line!.splice(at, 1);
    if (line!.length === 0) this.calls.delete(task.call);
    this.waiting--;
    return true;
  }

  /** The first task of the call whose turn it is; that call moves to the back of the line. */
  private nextTask(): Task | undefined {
    for (const [call, line] of this.calls) {
      const task = line.shift()!;
      this.calls.delete(call);
      if (line.length > 0) this.calls.set(call, line);
      this.waiting--;
      return task;
    }
    return undefined;
  }

  private failQueued(error: () => Error): void {
    const tasks = [...this.calls.values()].flat();
    this.calls.clear();
    this.waiting = 0;
    for (const t of tasks) t.reject(error());
  }

  private running(): number {
    return this.slots.reduce((n, s) => n + s.running.size, 0);
  }

  private adopt(worker: Worker): void {
    const slot: Slot = { worker, running: new Map(), heavy: new Set(), lastHeard: performance.now() };
    this.slots.push(slot);
    worker.on('message', (msg: WorkerMessage) => this.settle(slot, msg));
    worker.on('error', (err) => {
      this.log?.error({ err, threadId: worker.threadId }, 'inference worker failed');
    });
    worker.on('exit', (code) => this.replace(slot, code));
    if (this.down && !this.closing) {
      this.down = false;
      this.log?.info({ workers: this.slots.length }, 'an inference worker is running again');
      this.onAlive(true);
    }
    this.pump();
  }

  private settle(slot: Slot, msg: WorkerMessage): void {
    slot.lastHeard = performance.now();
    if (msg.type === 'heavy') {
      // It gives up its turn between groups of faces: the worker can take more beside it.
      if (slot.running.has(msg.id)) slot.heavy.add(msg.id);
      this.pump();
      return;
    }
    if (msg.type !== 'result' && msg.type !== 'error') return;
    const task = slot.running.get(msg.id);
    if (!task) return;
    slot.running.delete(msg.id);
    slot.heavy.delete(msg.id);
    this.onTask(msg.timing);
    if (msg.type === 'result') task.resolve(msg.result);
    else task.reject(msg.image === undefined ? new Error(msg.error) : new ImageError(msg.image, msg.error));
    if (this.closing && this.running() === 0) this.onIdle?.();
    this.pump();
  }

  /** A worker that dies fails its own tasks (never hangs them) and is replaced. */
  private replace(slot: Slot, code: number): void {
    const at = this.slots.indexOf(slot);
    if (at < 0) return; // retired earlier: already replaced
    this.slots.splice(at, 1);
    for (const t of slot.running.values()) t.reject(new Error(`inference worker exited (code ${code})`));
    slot.running.clear();
    if (this.closing) {
      if (this.running() === 0) this.onIdle?.();
      return;
    }
    this.log?.error({ code, workers: this.slots.length }, 'inference worker exited; starting a replacement');
    this.lost();
    this.respawn(0);
  }

  /** Called after a worker left the rotation: with none left, nothing queued may hang. */
  private lost(): void {
    if (this.alive || this.down) return;
    this.down = true;
    this.log?.error('no inference worker is running: failing queued images and reporting NOT_SERVING until one starts');
    this.failQueued(() => new ServiceError('unavailable', NO_WORKER_MESSAGE));
    this.onAlive(false);
  }

  private respawn(attempt: number): void {
    spawn(this.setup, this.script).then(({ worker }) => {
      if (this.closing) {
        void worker.terminate();
        return;
      }
      this.adopt(worker);
    }, (err: Error) => {
      if (this.closing) return;
      const delay = Math.min(RESPAWN_MAX_DELAY_MS, RESPAWN_FIRST_DELAY_MS * 2 ** attempt);
      this.log?.error({ err: err.message, attempt: attempt + 1, retryMs: delay },
        'could not start a replacement inference worker; retrying');
      const timer = setTimeout(() => {
        this.respawnTimers.delete(timer);
        this.respawn(attempt + 1);
      }, delay);
      this.respawnTimers.add(timer);
    });
  }

  /**
   * The watchdog: a worker that holds work and has said nothing for longer than the limit (a
   * task stuck in native code blocks its whole thread) fails the images it holds, leaves the
   * rotation and is ended once it finishes; a replacement starts now.
   */
  private checkStuck(): void {
    const now = performance.now();
    for (const slot of [...this.slots]) {
      if (slot.running.size === 0 || now - slot.lastHeard <= this.taskTimeoutMs) continue;
      const held = [...slot.running.values()];
      this.log?.error({ threadId: slot.worker.threadId, tasks: held.length, seconds: Math.round((now - slot.lastHeard) / 1000) },
        'an inference task ran past the time limit: failing it and replacing its worker');
      this.slots.splice(this.slots.indexOf(slot), 1);
      slot.running.clear();
      this.retire(slot.worker);
      const limit = Number((this.taskTimeoutMs / 1000).toFixed(1));
      for (const t of held) t.reject(new TaskTimeoutError(`processing took longer than ${limit} s and was stopped`));
      this.lost();
      this.respawn(0);
    }
  }

  /** Ends a worker taken out of rotation once it holds no task (it may still run the one queued beside). */
  private retire(worker: Worker): void {
    this.retired.add(worker);
    worker.removeAllListeners('message').removeAllListeners('exit');
    worker.on('message', (msg: WorkerMessage) => {
      if ((msg.type === 'result' || msg.type === 'error') && msg.left === 0) {
        this.retired.delete(worker);
        this.log?.info({ threadId: worker.threadId }, 'a retired inference worker finished and was ended');
        void worker.terminate();
      }
    });
    worker.on('exit', () => this.retired.delete(worker));
  }

  private pump(): void {
    const load = (s: Slot) => s.running.size - s.heavy.size;
    while (this.waiting > 0) {
      let best: Slot | undefined;
      for (const s of this.slots) {
        if (load(s) >= PER_WORKER) continue;
        if (!best || load(s) < load(best) || (load(s) === load(best) && s.heavy.size < best.heavy.size)) best = s;
      }
      if (!best) return;
      const task = this.nextTask()!;
      if (best.running.size === 0) best.lastHeard = performance.now();
      best.running.set(task.id, task);
      const msg: TaskMessage = { id: task.id, image: task.image, query: task.query };
      // The image is copied, never transferred: a task handed back by a stuck worker must
      // still have it for the next one.
      best.worker.postMessage(msg);
    }
  }
}
