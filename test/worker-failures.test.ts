/**
 * Inference workers that fail, with the real worker made to misbehave before its task reaches
 * ONNX Runtime (test/helpers/fragile-worker.ts): failures are logged through pino, replacements
 * are retried with backoff, no work hangs while no worker is alive (UNAVAILABLE, NOT_SERVING),
 * and a watchdog fails a task that runs far too long without ending its busy worker.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { createClient } from '@connectrpc/connect';
import { createGrpcTransport } from '@connectrpc/connect-node';
import { pino } from 'pino';
import { FaceGrpcClient } from '../clients/node/grpc-client.js';
import { Health, HealthCheckResponse_ServingStatus as Status } from '../gen/grpc/health/v1/health_pb.js';
import { selectModels } from '../models/packs/select.js';
import type { RgbImage } from '../models/inference/types.js';
import { ServiceError } from '../server/errors.js';
import { decodeImage } from '../server/pipeline/decode.js';
import { FULL_QUERY } from '../server/worker/faces.js';
import { TaskTimeoutError, WorkerPool } from '../server/pool/worker-pool.js';
import { BBT, readFace } from './helpers/data.js';
import { startServer } from './helpers/server.js';

const FRAGILE = new URL('./helpers/fragile-worker.js', import.meta.url);
const MARKERS = ['FACEREST_TEST_DIE', 'FACEREST_TEST_THROW_ONCE', 'FACEREST_TEST_NO_START', 'FACEREST_TEST_HANG_ONCE'] as const;
type Marker = typeof MARKERS[number];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: string, ok: () => boolean | Promise<boolean>, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > end) throw new Error(`timed out waiting for: ${what}`);
    await sleep(50);
  }
}

/** Marker files in a fresh folder, named in this process's environment (workers inherit it). */
function markers() {
  const dir = mkdtempSync(join(tmpdir(), 'facerest-fragile-'));
  const paths = Object.fromEntries(MARKERS.map((m) => [m, join(dir, m)])) as Record<Marker, string>;
  for (const m of MARKERS) process.env[m] = paths[m];
  return {
    paths,
    set: (m: Marker, text = '') => writeFileSync(paths[m], text),
    clear: (m: Marker) => rmSync(paths[m], { force: true }),
    cleanup() {
      for (const m of MARKERS) delete process.env[m];
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A pino logger whose lines are kept in `lines`. */
function memoryLog() {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      for (const l of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(l));
      done();
    },
  });
  return { log: pino({ level: 'info' }, stream), lines };
}

const m = markers();
after(() => m.cleanup());

describe('worker failures in the pool', () => {
  let image: RgbImage;
  const copy = () => ({ ...image, data: image.data.slice() });
  before(async () => {
    ({ image } = await decodeImage(readFace(BBT[0]), 640));
  });

  it('an uncaught error in a worker is logged through pino with its message, and the worker is replaced', async () => {
    const { log, lines } = memoryLog();
    const pool = await WorkerPool.start({ models: selectModels({}), open: {} }, 2, { script: FRAGILE, log });
    try {
      m.set('FACEREST_TEST_THROW_ONCE');
      await assert.rejects(pool.run(copy(), FULL_QUERY), /inference worker exited \(code 1\)/);
      const logged = lines.find((l) => l.level === 50 && JSON.stringify(l).includes('fragile worker: thrown on purpose'));
      assert.ok(logged, `the worker's error was not logged: ${JSON.stringify(lines)}`);
      await until('the pool is whole again', () => pool.size === 2);
      assert.equal((await pool.run(copy(), FULL_QUERY)).faces.length, 4);
    } finally {
      await pool.close();
    }
  });

  it('with no worker alive, queued and new work fails at once with UNAVAILABLE; replacements are retried until one starts', async () => {
    const { log, lines } = memoryLog();
    const pool = await WorkerPool.start({ models: selectModels({}), open: {} }, 2, { script: FRAGILE, log });
    const alive: boolean[] = [];
    pool.onAlive = (a) => alive.push(a);
    try {
      m.set('FACEREST_TEST_NO_START');
      m.set('FACEREST_TEST_DIE');
      // Two tasks go into each worker, two wait in the pool's queue.
      const outcomes = await Promise.all(Array.from({ length: 6 }, () => pool.run(copy(), FULL_QUERY).then(
        () => 'ok', (err: Error) => (err instanceof ServiceError ? `${err.kind}: ${err.message}` : err.message),
      )));
      assert.ok(outcomes.includes('inference worker exited (code 7)'), JSON.stringify(outcomes));
      assert.ok(outcomes.includes('unavailable: no inference worker is running; retry shortly'), JSON.stringify(outcomes));
      assert.ok(!outcomes.includes('ok'));
      m.clear('FACEREST_TEST_DIE');
      assert.equal(pool.alive, false);
      assert.deepEqual(alive, [false]);
      const started = Date.now();
      await assert.rejects(pool.run(copy(), FULL_QUERY), (e: ServiceError) => e.kind === 'unavailable');
      assert.ok(Date.now() - started < 100, 'a new task waited instead of failing at once');
      await until('two failed replacement attempts', () => lines.filter((l) => l.msg === 'could not start a replacement inference worker; retrying').length >= 4);
      m.clear('FACEREST_TEST_NO_START');
      // The retry delays double from 250 ms: the next attempts come within a few seconds.
      await until('a replacement started', () => pool.alive);
      assert.deepEqual(alive, [false, true]);
      assert.equal((await pool.run(copy(), FULL_QUERY)).faces.length, 4);
      await until('the pool is whole again', () => pool.size === 2);
    } finally {
      await pool.close();
    }
  });

  it('the watchdog fails a task stuck past the limit, keeps serving, and ends the worker only once it is idle', async () => {
    const { log, lines } = memoryLog();
    const pool = await WorkerPool.start({ models: selectModels({}), open: {} }, 2, { script: FRAGILE, log, taskTimeoutMs: 500 });
    try {
      // The first task blocks its worker's thread for 4 s, as a stuck native call would.
      m.set('FACEREST_TEST_HANG_ONCE', '4000');
      const started = Date.now();
      const outcome = await pool.run(copy(), FULL_QUERY).then(() => 'finished', (e: Error) => e);
      const waited = Date.now() - started;
      assert.ok(outcome instanceof TaskTimeoutError, String(outcome));
      assert.match(outcome.message, /longer than 0.5 s/);
      assert.ok(waited < 3000, `the stuck task was failed after ${waited} ms`);
      assert.ok(lines.some((l) => l.level === 50 && l.msg === 'an inference task ran past the time limit: failing it and replacing its worker'));
      // While the stuck thread still runs, the other worker (and soon a replacement) serves.
      const others = await Promise.all(Array.from({ length: 4 }, () => pool.run(copy(), FULL_QUERY)));
      assert.deepEqual(others.map((r) => r.faces.length), [4, 4, 4, 4]);
      assert.equal(pool.stuck, 1, 'the stuck worker was ended while busy');
      await until('the stuck worker finished and was ended', () => pool.stuck === 0);
      assert.ok(Date.now() - started >= 3900, 'the stuck worker was ended before its task finished');
      await until('the pool is whole again', () => pool.size === 2);
      assert.equal((await pool.run(copy(), FULL_QUERY)).faces.length, 4);
    } finally {
      await pool.close();
    }
  });
});

describe('worker failures in the server', () => {

  it('NOT_SERVING and UNAVAILABLE while no worker is alive (never a hang), SERVING again once one starts', async () => {
    const server = await startServer({ FACEREST_WORKERS: '1' }, 'ready', 'dist/test/helpers/fragile-main.js');
    const client = new FaceGrpcClient(server.address);
    const health = createClient(Health, createGrpcTransport({ baseUrl: server.baseUrl }));
    const photo = readFace(BBT[1]);
    try {
      assert.equal((await health.check({})).status, Status.SERVING);
      m.set('FACEREST_TEST_NO_START');
      m.set('FACEREST_TEST_DIE');
      const first = await client.extract({ images: [{ data: photo }] }, { deadline: 10_000 }).then(
        (r) => r.results[0].error?.message ?? '', (e: grpc.ServiceError) => grpc.status[e.code],
      );
      // The image the worker held fails with it; the call itself is answered.
      assert.match(first, /processing failed|UNAVAILABLE/);
      m.clear('FACEREST_TEST_DIE');
      await until('health says NOT_SERVING', async () => (await health.check({})).status === Status.NOT_SERVING, 5000);
      const started = Date.now();
      await assert.rejects(client.extract({ images: [{ data: photo }] }, { deadline: 10_000 }), (e: grpc.ServiceError) => {
        assert.equal(e.code, grpc.status.UNAVAILABLE);
        assert.match(e.details, /no inference worker is running/);
        assert.deepEqual(e.metadata.get('retry-after'), ['1']);
        return true;
      });
      assert.ok(Date.now() - started < 2000, 'the call waited for a worker that was not coming');
      await assert.rejects((async () => {
        for await (const _ of client.extractStream([{ id: 'a', image: { data: photo } }], { deadline: 10_000 })) { /* none come */ }
      })(), (e: grpc.ServiceError) => e.code === grpc.status.UNAVAILABLE && /no inference worker/.test(e.details));
      const rest = await fetch(`${server.baseUrl}/extract`, {
        method: 'POST', headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ images: { data: [photo.toString('base64')] } }),
      });
      assert.equal(rest.status, 503);
      assert.equal((await fetch(`${server.baseUrl}/healthz`)).status, 503);
      // Workers may start again only once a replacement has been tried and refused: on a loaded
      // machine the first attempt could otherwise come after the marker is gone, and succeed.
      const refused = 'could not start a replacement inference worker; retrying';
      await until('a replacement refused', async () => server.logs().some((l) => l.msg === refused), 20_000);
      m.clear('FACEREST_TEST_NO_START');
      await until('health says SERVING again', async () => (await health.check({})).status === Status.SERVING, 40_000);
      const res = await client.extract({ images: [{ data: photo }] });
      assert.equal(res.results[0].faces.length, 3);
      const logs = server.logs();
      assert.ok(logs.some((l) => l.msg === 'could not start a replacement inference worker; retrying'),
        `replacement failures were not logged; the log said: ${logs.map((l) => l.msg).filter((m) => m !== 'rpc').join(' | ')}`);
      assert.ok(logs.some((l) => l.msg === 'an inference worker is running again'));
      assert.equal(server.stderr().includes('could not replace'), false, 'logged with console.error instead of pino');
    } finally {
      client.close();
      await server.stop();
    }
  });
});
