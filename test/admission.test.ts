/**
 * The admission queue on its own (no server, milliseconds): room freed by a release goes to the
 * next live waiter in order, an aborted waiter leaves the line, a unary admit never jumps ahead
 * of waiting stream images, and streams cannot hold all of the queue.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Admission, FifoBudget, type Ticket } from '../server/pipeline/admission.js';
import { ServiceError } from '../server/errors.js';

const live = () => new AbortController().signal;

/** Resolves with the promise's value, or with 'pending' if it has not settled after a few turns. */
async function settled<T>(p: Promise<T>): Promise<T | 'pending'> {
  let state: T | 'pending' = 'pending';
  void p.then((v) => { state = v; }, () => undefined);
  for (let i = 0; i < 10; i++) await new Promise((r) => setImmediate(r));
  return state;
}

describe('Admission', () => {
  it('an aborted waiter leaves the line: the next release wakes the live one', async () => {
    const admission = new Admission(1);
    const held = admission.admit(1);
    const gone = new AbortController();
    const dead = admission.wait(gone.signal);
    const alive = admission.wait(live());
    gone.abort(new Error('stream ended'));
    await assert.rejects(dead, /stream ended/);
    held.release();
    const ticket = await settled(alive);
    assert.notEqual(ticket, 'pending', 'the live waiter still sleeps on an idle server');
    assert.equal(admission.depth, 1);
  });

  it('a unary admit does not take room freed for a waiting stream', async () => {
    const admission = new Admission(2);
    const unary = admission.admit(2);
    const waiter = admission.wait(live());
    unary.release(1);
    assert.throws(() => admission.admit(1), (e: ServiceError) => e.kind === 'overloaded');
    assert.notEqual(await settled(waiter), 'pending');
    assert.equal(admission.depth, 2);
  });

  it('waiters are served in the order they came', async () => {
    const admission = new Admission(1);
    const first = admission.admit(1);
    const order: number[] = [];
    const waiters = [0, 1, 2, 3].map((i) => admission.wait(live()).then((t) => { order.push(i); return t; }));
    first.release();
    for (const w of waiters) (await w).release();
    assert.deepEqual(order, [0, 1, 2, 3]);
    assert.equal(admission.depth, 0);
  });

  it('an aborted signal rejects at once and holds nothing', async () => {
    const admission = new Admission(1);
    const gone = new AbortController();
    gone.abort(new Error('gone'));
    await assert.rejects(admission.wait(gone.signal), /gone/);
    assert.equal(admission.depth, 0);
  });

  it('a ticket releases at most what it holds', () => {
    const admission = new Admission(10);
    const a = admission.admit(3);
    const b = admission.admit(2);
    a.release(5);
    a.releaseAll();
    assert.equal(admission.depth, 2);
    b.releaseAll();
    assert.equal(admission.depth, 0);
  });

  it('a unary request larger than the whole queue is let into an empty server only', () => {
    const admission = new Admission(4);
    const big = admission.admit(10);
    assert.throws(() => admission.admit(1), (e: ServiceError) => e.kind === 'overloaded' && /limit 4/.test(e.message));
    big.releaseAll();
    admission.admit(1);
  });

  it('streams hold at most their share; the rest stays for unary requests', async () => {
    const admission = new Admission(8, 4);
    const tickets: Ticket[] = [];
    for (let i = 0; i < 4; i++) tickets.push(await admission.wait(live()));
    const fifth = admission.wait(live());
    assert.equal(await settled(fifth), 'pending');
    // Unary requests still find the other half.
    const unary = admission.admit(4);
    assert.equal(admission.depth, 8);
    unary.releaseAll();
    assert.equal(await settled(fifth), 'pending', 'freed unary room went to a stream over its share');
    tickets[0].release();
    assert.notEqual(await settled(fifth), 'pending');
  });

  it('after close(), admit and wait refuse with UNAVAILABLE and waiters are told', async () => {
    const admission = new Admission(1);
    const held = admission.admit(1);
    const waiter = admission.wait(live());
    admission.close('server is shutting down');
    await assert.rejects(waiter, (e: ServiceError) => e.kind === 'unavailable' && /shutting down/.test(e.message));
    assert.throws(() => admission.admit(1), (e: ServiceError) => e.kind === 'unavailable');
    await assert.rejects(admission.wait(live()), (e: ServiceError) => e.kind === 'unavailable');
    held.release();
    assert.equal(admission.depth, 0);
  });
});

describe('FifoBudget (decoded pixels in flight)', () => {
  it('takes what fits, makes the rest wait in order, and hands freed room on', async () => {
    const budget = new FifoBudget(100);
    const a = await budget.acquire(60, live());
    const b = budget.acquire(50, live());
    const c = budget.acquire(10, live());
    // c would fit, but it must not overtake b (a large image would starve behind small ones).
    assert.equal(await settled(b), 'pending');
    assert.equal(await settled(c), 'pending');
    a();
    assert.notEqual(await settled(b), 'pending');
    assert.notEqual(await settled(c), 'pending');
    assert.equal(budget.held, 60);
  });

  it('an amount larger than the whole budget runs alone', async () => {
    const budget = new FifoBudget(100);
    const small = await budget.acquire(10, live());
    const huge = budget.acquire(500, live());
    assert.equal(await settled(huge), 'pending');
    small();
    const release = await settled(huge);
    assert.notEqual(release, 'pending');
    assert.equal(budget.held, 500);
    const next = budget.acquire(1, live());
    assert.equal(await settled(next), 'pending');
    (release as () => void)();
    assert.notEqual(await settled(next), 'pending');
  });

  it('an aborted waiter leaves the line and the one behind it moves up', async () => {
    const budget = new FifoBudget(100);
    const a = await budget.acquire(100, live());
    const gone = new AbortController();
    const dead = budget.acquire(80, gone.signal);
    const alive = budget.acquire(30, live());
    gone.abort(new Error('deadline'));
    await assert.rejects(dead, /deadline/);
    a();
    assert.notEqual(await settled(alive), 'pending');
    assert.equal(budget.held, 30);
  });

  it('releasing twice is a no-op', async () => {
    const budget = new FifoBudget(100);
    const release = await budget.acquire(40, live());
    release();
    release();
    assert.equal(budget.held, 0);
  });
});
