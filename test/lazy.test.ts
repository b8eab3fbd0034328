/**
 * A detector's input graphs are opened on first use (models/inference/lazy.ts): callers at the
 * same time share one opening, and a failed one is tried again by the next call instead of
 * failing every later image.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { lazy } from '../models/inference/lazy.js';

describe('lazy', () => {
  it('makes the value once for calls at the same time and after', async () => {
    let made = 0;
    const get = lazy(async () => ({ n: ++made }));
    const [a, b] = await Promise.all([get(), get()]);
    assert.equal(a, b);
    assert.equal(await get(), a);
    assert.equal(made, 1);
  });

  it('tries again after a failure, and keeps the first success', async () => {
    let tries = 0;
    const get = lazy(async () => {
      tries++;
      if (tries === 1) throw new Error('out of memory');
      return tries;
    });
    // Both callers of the failed attempt see its error.
    const failed = await Promise.allSettled([get(), get()]);
    assert.deepEqual(failed.map((r) => r.status), ['rejected', 'rejected']);
    assert.equal((failed[0] as PromiseRejectedResult).reason.message, 'out of memory');
    assert.equal(await get(), 2);
    assert.equal(await get(), 2);
    assert.equal(tries, 2);
  });
});
