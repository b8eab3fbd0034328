/**
 * SIGTERM: the health service turns NOT_SERVING, no new connections are taken, what was admitted
 * is finished (within FACEREST_DRAIN_SECONDS) and the process exits 0. And a dying inference
 * worker fails its own images with an error and is replaced.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { createClient } from '@connectrpc/connect';
import { createGrpcTransport } from '@connectrpc/connect-node';
import { FaceGrpcClient } from '../clients/node/grpc-client.js';
import { Health, HealthCheckResponse_ServingStatus as Status } from '../gen/grpc/health/v1/health_pb.js';
import { selectModels } from '../models/select.js';
import { decodeImage } from '../server/pipeline/decode.js';
import { WorkerPool } from '../server/pool/worker-pool.js';
import { FULL_QUERY, type FoundFace } from '../server/pipeline/faces.js';
import { BBT, readFace, readShared } from './helpers/data.js';
import { startServer } from './helpers/server.js';

const PORTRAITS = Array.from({ length: 20 }, (_, i) => readShared('faces', 'deepface', `img${i + 1}.jpg`));

async function refusesConnections(port: number): Promise<boolean> {
  const socket = net.connect(port, '127.0.0.1');
  try {
    await once(socket, 'connect');
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ECONNREFUSED';
  } finally {
    socket.destroy();
  }
}

describe('shutdown', () => {
  it('SIGTERM: NOT_SERVING, no new connections, admitted work finished, exit 0', async () => {
    const server = await startServer({ FACEREST_WORKERS: '1' });
    const client = new FaceGrpcClient(server.address);
    const health = createClient(Health, createGrpcTransport({ baseUrl: server.baseUrl }));
    const watching = new AbortController();
    const statuses: Status[] = [];
    const watch = (async () => {
      try {
        for await (const r of health.watch({ service: '' }, { signal: watching.signal })) statuses.push(r.status);
      } catch { /* ends with the server */ }
    })();
    try {
      const work = client.extract({ images: PORTRAITS.map((data) => ({ data })) });
      await new Promise((r) => setTimeout(r, 300));
      const exited = once(server.process, 'exit');
      server.process.kill('SIGTERM');
      await new Promise((r) => setTimeout(r, 200));
      assert.ok(await refusesConnections(server.port), 'a new connection was accepted while draining');
      const res = await work;
      assert.equal(res.results.length, PORTRAITS.length);
      for (const r of res.results) assert.equal(r.error, '');
      const [code] = await exited;
      assert.equal(code, 0);
      await watch;
      assert.deepEqual(statuses.slice(0, 2), [Status.SERVING, Status.NOT_SERVING]);
    } finally {
      watching.abort();
      client.close();
      await server.stop();
    }
  });

  it('the drain time limit ends work that takes too long, and still exits 0', async (t) => {
    const server = await startServer({ FACEREST_WORKERS: '1', FACEREST_DRAIN_SECONDS: '1' });
    const client = new FaceGrpcClient(server.address);
    try {
      const many = [...PORTRAITS, ...PORTRAITS, ...PORTRAITS, ...PORTRAITS, ...PORTRAITS].map((data) => ({ data }));
      const work = client.extract({ images: many }).then(() => 'finished', () => 'cut off');
      await new Promise((r) => setTimeout(r, 300));
      const started = Date.now();
      const exited = once(server.process, 'exit');
      server.process.kill('SIGTERM');
      const [code] = await exited;
      assert.equal(code, 0);
      assert.equal(await work, 'cut off');
      t.diagnostic(`exited ${Date.now() - started} ms after SIGTERM`);
      // 1 s of drain, plus closing the pool (measured: 1.2 s), well short of the 100 portraits.
      assert.ok(Date.now() - started < 5000);
    } finally {
      client.close();
      await server.stop();
    }
  });
});

describe('inference worker death', () => {
  it('fails the dying worker\'s images with an error, not a hang, and replaces the worker', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'facerest-die-'));
    const marker = join(dir, 'die');
    process.env.FACEREST_TEST_DIE_ONCE = marker;
    const pool = await WorkerPool.start(selectModels({}), 2, { script: new URL('./helpers/fragile-worker.js', import.meta.url) });
    try {
      const { image } = await decodeImage(readFace(BBT[0]), 640);
      const copy = () => ({ ...image, data: image.data.slice() });
      writeFileSync(marker, '');
      const outcomes = await Promise.all(Array.from({ length: 6 }, () => pool.run(copy(), FULL_QUERY).then(
        ({ faces }: { faces: FoundFace[] }) => faces.length, (err: Error) => err.message,
      )));
      assert.ok(outcomes.includes('inference worker exited (code 7)'), JSON.stringify(outcomes));
      assert.ok(outcomes.includes(4), JSON.stringify(outcomes));
      for (let i = 0; i < 100 && pool.size < 2; i++) await new Promise((r) => setTimeout(r, 100));
      assert.equal(pool.size, 2);
      const after = await Promise.all(Array.from({ length: 4 }, () => pool.run(copy(), FULL_QUERY)));
      assert.deepEqual(after.map((r) => r.faces.length), [4, 4, 4, 4]);
    } finally {
      await pool.close();
      delete process.env.FACEREST_TEST_DIE_ONCE;
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
