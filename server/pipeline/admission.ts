/**
 * Server-wide admission of images: a bounded queue in front of the workers. A unary request is
 * admitted whole or refused at once (the caller retries after Retry-After) rather than left to
 * pile up; a stream waits for room instead, since its own window already bounds what it holds.
 */

import { ServiceError } from '../errors.js';

/** Admitted images; release each as it finishes. Releasing more than was admitted is a no-op. */
export interface Ticket {
  release(count?: number): void;
  /** Releases whatever is still held. */
  releaseAll(): void;
}

export class Admission {
  private held = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(readonly limit: number) {}

  /** Images admitted and not yet released. */
  get depth(): number {
    return this.held;
  }

  /**
   * All `count` images now, or an 'overloaded' ServiceError. A request larger than the whole queue is let
   * into an empty server, so that the per-request image limit alone decides what is too big.
   */
  admit(count: number): Ticket {
    if (this.held > 0 && this.held + count > this.limit) {
      throw new ServiceError('overloaded', `server busy: ${this.held} images queued (limit ${this.limit}); retry shortly`);
    }
    return this.ticket(count);
  }

  /** One image, waiting for room; rejects with the signal's reason if it aborts first. */
  async wait(signal: AbortSignal): Promise<Ticket> {
    while (this.held >= this.limit) {
      signal.throwIfAborted();
      await new Promise<void>((resolve) => {
        const done = () => {
          signal.removeEventListener('abort', done);
          resolve();
        };
        this.waiting.push(done);
        signal.addEventListener('abort', done, { once: true });
      });
    }
    signal.throwIfAborted();
    return this.ticket(1);
  }

  private ticket(count: number): Ticket {
    this.held += count;
    let left = count;
    const release = (n: number) => {
      const k = Math.min(n, left);
      if (k <= 0) return;
      left -= k;
      this.held -= k;
      for (const wake of this.waiting.splice(0, k)) wake();
    };
    return { release: (n = 1) => release(n), releaseAll: () => release(left) };
  }
}
