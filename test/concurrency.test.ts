/**
 * mapBounded and mapUnordered on their own (no server, milliseconds): bounded work in flight,
 * input read only while there is room, results as they complete, errors and early stops that
 * never hang on a source that has nothing more to give, and a stop signal for draining.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { mapBounded, mapUnordered } from '../server/pipeline/concurrency.js';

const tick = (ms = 0) => new Promise<void>((r) => setTimeout(r, ms));

/** A promise with its resolve and reject in hand. */
function deferred<T = void>() {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => { resolve = res; reject = rej; });
  return { promise, resolve, reject };
}

/** A source like a client stream: yields `items`, then waits until `end` resolves (an idle client). */
function clientStream<T>(items: T[], end: Promise<void> = new Promise(() => undefined)) {
  const state = { read: 0, returned: false };
  async function* gen() {
    try {
      for (const item of items) {
        state.read++;
        yield item;
      }
      await end;
    } finally {
      state.returned = true;
    }
  }
  return { source: gen(), state };
}

async function collect<T>(source: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const v of source) out.push(v);
  return out;
}

/** Rejects if `p` has not settled within `ms`. */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return Promise.race([p, tick(ms).then(() => { throw new Error(`${what}: not settled after ${ms} ms`); })]);
}

describe('mapBounded', () => {
  it('keeps at most `limit` running and returns results in input order', async () => {
    let running = 0, peak = 0;
    const out = await mapBounded([30, 5, 20, 1, 10, 2], 3, async (ms) => {
      peak = Math.max(peak, ++running);
      await tick(ms);
      running--;
      return ms * 2;
    });
    assert.deepEqual(out, [60, 10, 40, 2, 20, 4]);
    assert.equal(peak, 3);
  });
});

describe('mapUnordered', () => {
  it('yields results as they complete, with at most `limit` in flight', async () => {
    let running = 0, peak = 0;
    // Ends at 20, 80 (20+60), 90 (80+10), 210 (90+120) and 300 ms: that order, at least 10 ms apart.
    const { source } = clientStream([300, 20, 60, 10, 120], Promise.resolve());
    const out = await collect(mapUnordered(source, 2, async (ms) => {
      peak = Math.max(peak, ++running);
      await tick(ms);
      running--;
      return ms;
    }));
    assert.equal(peak, 2);
    assert.deepEqual(out, [20, 60, 10, 120, 300]);
  });

  it('reads input only while there is room (flow control)', async () => {
    const { source, state } = clientStream(Array.from({ length: 100 }, (_, i) => i), Promise.resolve());
    const gate = deferred<void>();
    const gen = mapUnordered(source, 4, async (i) => { await gate.promise; return i; });
    const first = gen.next();
    await tick(5);
    // Four in flight plus at most one read waiting for room... none: reading stops at the limit.
    assert.equal(state.read, 4);
    gate.resolve();
    assert.equal((await first).value, 0);
    await gen.return(undefined);
    assert.ok(state.read < 100);
    assert.ok(state.returned, 'the source was not closed when the consumer stopped');
  });

  it('a client that waits for each answer before sending the next does not deadlock', async () => {
    const answered: number[] = [];
    let next = deferred<void>();
    async function* pingPong() {
      for (let i = 0; i < 5; i++) {
        yield i;
        await next.promise;
      }
    }
    for await (const v of mapUnordered(pingPong(), 4, async (i) => i * 10)) {
      answered.push(v);
      const n = next;
      next = deferred<void>();
      n.resolve();
    }
    assert.deepEqual(answered, [0, 10, 20, 30, 40]);
  });

  it('an error ends the stream at once, even while the client sends nothing more', async () => {
    const { source, state } = clientStream([1, 2]);
    const gen = mapUnordered(source, 4, async (i) => {
      if (i === 2) throw new Error('bad image options');
      await tick(20);
      return i;
    });
    await assert.rejects(within(collect(gen), 1000, 'the failed stream'), /bad image options/);
    assert.ok(state.read === 2);
  });

  it('a consumer that stops early is not held by a source waiting for its client', async () => {
    const { source } = clientStream([1, 2, 3]);
    const gen = mapUnordered(source, 4, async (i) => i);
    const first = await gen.next();
    assert.equal(first.value, 1);
    await within(gen.return(undefined), 1000, 'return()');
  });

  it('a failing item leaves no unhandled rejection behind when others fail after the stream ended', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      const { source } = clientStream([1, 2, 3], Promise.resolve());
      await assert.rejects(collect(mapUnordered(source, 4, async (i) => {
        await tick(i * 10);
        throw new Error(`item ${i}`);
      })), /item 1/);
      await tick(60);
      assert.deepEqual(unhandled, []);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });

  it('a stop signal ends reading, answers what is in flight, then throws its reason', async () => {
    const { source, state } = clientStream(Array.from({ length: 50 }, (_, i) => i));
    const stop = new AbortController();
    const gates = new Map<number, ReturnType<typeof deferred<void>>>();
    const gen = mapUnordered(source, 3, async (i) => {
      const g = deferred<void>();
      gates.set(i, g);
      await g.promise;
      return i;
    }, stop.signal);
    const out: number[] = [];
    const done = (async () => {
      for await (const v of gen) out.push(v);
    })();
    await tick(5);
    assert.equal(state.read, 3);
    stop.abort(new Error('server is shutting down'));
    await tick(5);
    for (const g of gates.values()) g.resolve();
    await assert.rejects(within(done, 1000, 'the drained stream'), /shutting down/);
    assert.deepEqual(out.sort(), [0, 1, 2]);
    assert.equal(state.read, 3, 'input was read after the stop');
  });

  it('a stop while the client is idle ends the stream at once', async () => {
    const { source } = clientStream([1]);
    const stop = new AbortController();
    const out: number[] = [];
    const done = (async () => {
      for await (const v of mapUnordered(source, 3, async (i) => i, stop.signal)) out.push(v);
    })();
    await tick(5);
    stop.abort(new Error('draining'));
    await assert.rejects(within(done, 1000, 'the idle stream'), /draining/);
    assert.deepEqual(out, [1]);
  });
});
