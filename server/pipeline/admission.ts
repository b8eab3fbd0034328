/**
 * Server-wide admission of images: a bounded queue in front of the workers. A unary request is
 * admitted whole or refused at once (the caller retries after Retry-After) rather than left to
 * pile up; a stream waits for room instead, since its own window already bounds what it holds.
 * Streams together hold at most their share of the queue, so that steady streams cannot keep
 * every unary request out. Room freed by a release is handed straight to the waiters, in the
 * order they came, before anyone else can take it.
 */

import { ServiceError } from '../errors.js';

/** Admitted images; release each as it finishes. Releasing more than was admitted is a no-op. */
export interface Ticket {
  release(count?: number): void;
  /** Releases whatever is still held. */
  releaseAll(): void;
}

interface Waiter {
  grant(ticket: Ticket): void;
  fail(err: unknown): void;
}

export class Admission {
  private held = 0;
  private streamHeld = 0;
  private readonly waiting: Waiter[] = [];
  private closed?: string;

  /** `streamLimit`: images that streams may hold together (default: the whole queue). */
  constructor(readonly limit: number, readonly streamLimit: number = limit) {}

  /** Images admitted and not yet released. */
  get depth(): number {
    return this.held;
  }

  /** Stream images waiting for room. */
  get waiters(): number {
    return this.waiting.length;
  }

  /**
   * All `count` images now, or an 'overloaded' ServiceError ('unavailable' once closed). A
   * request larger than the whole queue is let into an empty server, so that the per-request
   * image limit alone decides what is too big.
   */
  admit(count: number): Ticket {
    const refusal = this.refusal(count);
    if (refusal) throw refusal;
    return this.ticket(count, false);
  }

  /**
   * Why a request of `count` images would be refused now, or undefined if it would be admitted.
   * With count 1 it answers whether any request could get in, before its body is even read.
   */
  refusal(count = 1): ServiceError | undefined {
    if (this.closed) return new ServiceError('unavailable', this.closed);
    if (this.held > 0 && this.held + count > this.limit) {
      return new ServiceError('overloaded', `server busy: ${this.held} images queued (limit ${this.limit}); retry shortly`);
    }
    return undefined;
  }

  /**
   * One stream image, waiting for room; rejects with the signal's reason if it aborts first,
   * or with an 'unavailable' ServiceError when the admission closes.
   */
  wait(signal: AbortSignal): Promise<Ticket> {
    if (this.closed) return Promise.reject(new ServiceError('unavailable', this.closed));
    if (signal.aborted) return Promise.reject(signal.reason);
    if (this.waiting.length === 0 && this.streamFits()) return Promise.resolve(this.ticket(1, true));
    return new Promise<Ticket>((resolve, reject) => {
      const leave = () => {
        const at = this.waiting.indexOf(waiter);
        if (at >= 0) this.waiting.splice(at, 1);
        reject(signal.reason);
      };
      const waiter: Waiter = {
        grant: (ticket) => {
          signal.removeEventListener('abort', leave);
          resolve(ticket);
        },
        fail: (err) => {
          signal.removeEventListener('abort', leave);
          reject(err);
        },
      };
      this.waiting.push(waiter);
      signal.addEventListener('abort', leave, { once: true });
    });
  }

  /** From now on every admit and wait is refused with `message` ('unavailable'); waiters are told. */
  close(message: string): void {
    this.closed = message;
    for (const w of this.waiting.splice(0)) w.fail(new ServiceError('unavailable', message));
  }

  private streamFits(): boolean {
    return this.held < this.limit && this.streamHeld < this.streamLimit;
  }

  private ticket(count: number, stream: boolean): Ticket {
    this.held += count;
    if (stream) this.streamHeld += count;
    let left = count;
    const release = (n: number) => {
      const k = Math.min(n, left);
      if (k <= 0) return;
      left -= k;
      this.held -= k;
      if (stream) this.streamHeld -= k;
      this.handOver();
    };
    return { release: (n = 1) => release(n), releaseAll: () => release(left) };
  }

  /** Freed room goes to the waiters first, synchronously, so an admit() cannot take it. */
  private handOver(): void {
    while (this.waiting.length > 0 && this.streamFits()) {
      this.waiting.shift()!.grant(this.ticket(1, true));
    }
  }
}

/**
 * A budget of some amount in flight (decoded pixels), shared first come, first served: an
 * amount that does not fit waits, and everyone behind it waits too, so a large image is not
 * starved by a flow of small ones. An amount larger than the whole budget runs alone.
 */
export class FifoBudget {
  private used = 0;
  private readonly waiting: { amount: number; grant(): void }[] = [];

  constructor(readonly limit: number) {}

  get held(): number {
    return this.used;
  }

  /** Resolves with the release function once `amount` fits; rejects with the signal's reason. */
  acquire(amount: number, signal?: AbortSignal): Promise<() => void> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.waiting.length === 0 && this.fits(amount)) return Promise.resolve(this.take(amount));
    return new Promise((resolve, reject) => {
      const leave = () => {
        const at = this.waiting.indexOf(entry);
        if (at >= 0) this.waiting.splice(at, 1);
        reject(signal!.reason);
        // The one that left may have been blocking smaller amounts behind it.
        this.handOver();
      };
      const entry = {
        amount,
        grant: () => {
          signal?.removeEventListener('abort', leave);
          resolve(this.take(amount));
        },
      };
      this.waiting.push(entry);
      signal?.addEventListener('abort', leave, { once: true });
    });
  }

  private fits(amount: number): boolean {
    return this.used === 0 || this.used + amount <= this.limit;
  }

  private take(amount: number): () => void {
    this.used += amount;
    let held = true;
    return () => {
      if (!held) return;
      held = false;
      this.used -= amount;
      this.handOver();
    };
  }

  private handOver(): void {
    while (this.waiting.length > 0 && this.fits(this.waiting[0].amount)) this.waiting.shift()!.grant();
  }
}
