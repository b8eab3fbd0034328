/**
 * The good clients (good-traffic.ts) in a thread of their own. In the runner's thread they shared
 * an event loop with the attacks, and an attack's synchronous work held them up: building eight
 * 60 MB uploads took that thread 2.7 s, past the server's 2 s idle timeout, and the Connect client
 * then sent its next request on the kept-alive connection the server had rightly closed (EPIPE:
 * a failure of the harness, counted against the server). Real good clients are other processes.
 */
import { Worker } from 'node:worker_threads';
import type { GoodTrafficOptions, Photo, Reference } from './good-traffic.js';
import type { GoodTally } from './types.js';

export interface GoodClientsData {
  photos: Photo[];
  refs: Map<string, Reference>;
}

export type ToGoodClients = { type: 'start'; options: GoodTrafficOptions } | { type: 'stop' };
export type FromGoodClients = { type: 'started' } | { type: 'correct'; ms: number } | { type: 'stopped'; tally: GoodTally };

const THREAD = new URL('./good-clients-thread.js', import.meta.url);

/** One thread for a whole round; start() and stop() bracket each attack. */
export class GoodClients {
  private worker?: Worker;
  private waiting?: { type: FromGoodClients['type']; resolve: (m: FromGoodClients) => void; reject: (err: Error) => void };
  /** Times to correct answers since the last start(), ms. */
  latencies: number[] = [];

  constructor(private readonly data: GoodClientsData) {}

  async start(options: GoodTrafficOptions): Promise<void> {
    this.latencies = [];
    await this.ask({ type: 'start', options }, 'started');
  }

  async stop(): Promise<GoodTally> {
    const m = await this.ask({ type: 'stop' }, 'stopped');
    return (m as Extract<FromGoodClients, { type: 'stopped' }>).tally;
  }

  async close(): Promise<void> {
    await this.worker?.terminate();
    this.worker = undefined;
  }

  private ask(message: ToGoodClients, answer: FromGoodClients['type']): Promise<FromGoodClients> {
    const worker = this.worker ?? this.spawn();
    return new Promise((resolve, reject) => {
      this.waiting = { type: answer, resolve, reject };
      worker.postMessage(message);
    });
  }

  private spawn(): Worker {
    const worker = new Worker(THREAD, { workerData: this.data });
    worker.on('message', (m: FromGoodClients) => {
      if (m.type === 'correct') this.latencies.push(m.ms);
      else if (this.waiting?.type === m.type) {
        this.waiting.resolve(m);
        this.waiting = undefined;
      }
    });
    // A thread that dies fails what waits on it; the next start() spawns another.
    const fail = (err: Error) => {
      if (this.worker === worker) this.worker = undefined;
      this.waiting?.reject(err);
      this.waiting = undefined;
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`the good clients' thread exited (code ${code})`)));
    this.worker = worker;
    return worker;
  }
}
