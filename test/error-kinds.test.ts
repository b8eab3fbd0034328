/**
 * One table of error kinds (server/errors.ts) answers for both paths: a limit is permanent
 * (INVALID_ARGUMENT, HTTP 400/413, no retry hint), overload is transient (RESOURCE_EXHAUSTED,
 * HTTP 429, with retry-after), loading is UNAVAILABLE / 503 with retry-after. A unary request
 * that arrives while the queue has no room is refused before its body is read. Internal error
 * text never reaches a client: it is logged under the request id.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { Code, ConnectError, createClient, type Transport } from '@connectrpc/connect';
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from '@connectrpc/connect-node';
import { create } from '@bufbuild/protobuf';
import * as grpc from '@grpc/grpc-js';
import { pino } from 'pino';
import sharp from 'sharp';
import { FaceGrpcClient } from '../clients/node/grpc-client.js';
import { ExtractRequestSchema, FaceService, ImageErrorCode } from '../gen/facerest/v1/face_service_pb.js';
import { selectModels } from '../models/packs/select.js';
import { Metrics } from '../server/metrics.js';
import { Admission, FifoBudget } from '../server/pipeline/admission.js';
import { Extractor } from '../server/pipeline/extract.js';
import { WorkerPool } from '../server/pool/worker-pool.js';
import { BBT, readFace, readShared } from './helpers/data.js';
import { base64 } from './helpers/legacy.js';
import { eventually, metricValue, scrape } from './helpers/metrics.js';
import { envelope, grpcStatusOf, h1Call, h2Call } from './helpers/raw.js';
import { startServer, type TestServer } from './helpers/server.js';

/** 40 full-size portraits on one worker: over a second of work (see overload.test.ts). */
const PORTRAITS = Array.from({ length: 40 }, (_, i) => readShared('faces', 'deepface', `img${(i % 20) + 1}.jpg`));
const bbt3 = readFace(BBT[2]);
const EXTRACT = '/facerest.v1.FaceService/Extract';

function transports(baseUrl: string): Record<string, Transport> {
  return {
    connect: createConnectTransport({ baseUrl, httpVersion: '1.1' }),
    grpc: createGrpcTransport({ baseUrl }),
    'grpc-web': createGrpcWebTransport({ baseUrl, httpVersion: '2' }),
  };
}

const rpcCode = (code: Code) => (err: unknown) => {
  assert.ok(err instanceof ConnectError, String(err));
  assert.equal(err.code, code, `${Code[err.code]}: ${err.rawMessage}`);
  return true;
};

describe('error kinds: limits and overload', () => {
  let server: TestServer;
  let grpcJs: FaceGrpcClient;
  before(async () => {
    server = await startServer({
      FACEREST_WORKERS: '1', FACEREST_MAX_QUEUE: '1', FACEREST_MAX_IMAGES: '40', FACEREST_MAX_BODY_BYTES: '16000000',
    });
    grpcJs = new FaceGrpcClient(server.address);
  });
  after(async () => {
    grpcJs.close();
    await server.stop();
  });

  it('too many images: INVALID_ARGUMENT on every protocol (no retry hint), 413 on /extract', async () => {
    const images = Array.from({ length: 41 }, () => ({ data: bbt3.subarray(0, 10) }));
    await assert.rejects(grpcJs.extract({ images }), (err: grpc.ServiceError) => {
      assert.equal(err.code, grpc.status.INVALID_ARGUMENT);
      assert.match(err.details, /more than 40 images in one request, over the limit of 40/);
      assert.deepEqual(err.metadata.get('retry-after'), []);
      return true;
    });
    for (const [name, transport] of Object.entries(transports(server.baseUrl))) {
      await assert.rejects(createClient(FaceService, transport).extract({ images }), rpcCode(Code.InvalidArgument), name);
    }
    const body = JSON.stringify({ images: { data: images.map((i) => base64(i.data)) } });
    const rest = await fetch(`${server.baseUrl}/extract`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    assert.equal(rest.status, 413);
    assert.equal(rest.headers.get('retry-after'), null);
    assert.match(((await rest.json()) as { error: string }).error, /limit of 40/);
  });

  it('a body over the size limit: INVALID_ARGUMENT on every protocol (was RESOURCE_EXHAUSTED), 413 on /extract', async () => {
    const big = Buffer.alloc(16_500_000, 7);
    await assert.rejects(grpcJs.extract({ images: [{ data: big }] }), (err: grpc.ServiceError) => {
      assert.equal(err.code, grpc.status.INVALID_ARGUMENT, `${grpc.status[err.code]}: ${err.details}`);
      assert.match(err.details, /exceeds the limit of 16000000 bytes/);
      return true;
    });
    // Connect's HTTP/2 gRPC and gRPC-Web transports meet NGHTTP2_ENHANCE_YOUR_CALM from their own
    // session when 16 MB are still queued as the stream ends (issue 10 item 16, the client's
    // maxSessionMemory); over HTTP/2 those protocols are checked with hand-made requests below.
    for (const [name, transport] of Object.entries({
      'connect (HTTP/1.1)': createConnectTransport({ baseUrl: server.baseUrl, httpVersion: '1.1' }),
      'connect (HTTP/2)': createConnectTransport({ baseUrl: server.baseUrl, httpVersion: '2' }),
      'grpc-web (HTTP/1.1)': createGrpcWebTransport({ baseUrl: server.baseUrl, httpVersion: '1.1' }),
    })) {
      await assert.rejects(createClient(FaceService, transport).extract({ images: [{ data: big }] }), rpcCode(Code.InvalidArgument), name);
    }
    for (const type of ['application/grpc', 'application/grpc-web+proto']) {
      const answer = await h2Call(server.port, { ':path': EXTRACT, 'content-type': type, te: 'trailers' },
        envelope(big.subarray(0, 65536), 0, big.length), { keepOpen: true, timeoutMs: 5000 });
      const { status, message } = grpcStatusOf(answer);
      assert.equal(status, '3', type);
      assert.match(message, /exceeds the limit of 16000000 bytes/);
    }
    const rest = await fetch(`${server.baseUrl}/extract`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ images: { data: [base64(big)] } }),
    });
    assert.equal(rest.status, 413);
  });

  it('overload: RESOURCE_EXHAUSTED + retry-after on every protocol, 429 + Retry-After on /extract, refused before the body', async () => {
    const slow = grpcJs.extract({ images: PORTRAITS.map((data) => ({ data })), options: { maxSize: 0 } });
    const queued = (t: string) => metricValue(t, 'facerest_queue_depth') > 0;
    assert.ok(queued(await eventually(server.baseUrl, queued)), 'the 40 portraits are being processed');

    await assert.rejects(grpcJs.extract({ images: [{ data: bbt3 }] }), (err: grpc.ServiceError) => {
      assert.equal(err.code, grpc.status.RESOURCE_EXHAUSTED);
      assert.match(err.details, /server busy/);
      assert.deepEqual(err.metadata.get('retry-after'), ['1']);
      return true;
    });
    for (const [name, transport] of Object.entries(transports(server.baseUrl))) {
      await assert.rejects(createClient(FaceService, transport).extract({ images: [{ data: bbt3 }] }), (err) => {
        rpcCode(Code.ResourceExhausted)(err);
        assert.equal((err as ConnectError).metadata.get('retry-after'), '1', name);
        return true;
      }, name);
    }
    // Bodies that never end: the refusal comes from the headers alone.
    const atOnce = { keepOpen: true, timeoutMs: 5000 };
    const grpcRaw = await h2Call(server.port, { ':path': EXTRACT, 'content-type': 'application/grpc', te: 'trailers' },
      envelope(bbt3.subarray(0, 1000), 0, 1_000_000), atOnce);
    assert.equal(grpcRaw.endStream, true, 'trailers-only');
    assert.equal(grpcRaw.headers['grpc-status'], String(grpc.status.RESOURCE_EXHAUSTED));
    assert.equal(grpcRaw.headers['retry-after'], '1');
    const connectRaw = await h2Call(server.port, { ':path': EXTRACT, 'content-type': 'application/proto', 'content-length': '1000000' },
      bbt3.subarray(0, 1000), atOnce);
    assert.equal(connectRaw.status, 429);
    assert.equal(connectRaw.headers['retry-after'], '1');
    assert.equal(JSON.parse(connectRaw.body.toString()).code, 'resource_exhausted');
    const rest = await h1Call(server.port, ['POST /extract HTTP/1.1', 'host: x', 'content-type: application/json',
      'content-length: 1000000'].join('\r\n'), '{"images": {"data": ["', atOnce);
    assert.equal(rest.status, 429);
    assert.equal(rest.headers['retry-after'], '1');
    assert.match(JSON.parse(rest.body.toString()).error, /server busy/);

    assert.ok(queued(await scrape(server.baseUrl)), 'the queue was still full after the probes: they were refused for overload');
    const done = await slow;
    assert.equal(done.results.length, 40);
    assert.ok(done.results.every((r) => !r.error && r.faces.length > 0));
  });
});

describe('error kinds: models still loading', () => {
  let server: TestServer;
  // Six workers load their sessions on two cores: several seconds before SERVING (measured 3 to 5 s).
  before(async () => { server = await startServer({ FACEREST_WORKERS: '6' }, 'listening'); });
  after(async () => { await server.stop(); });

  it('UNAVAILABLE with retry-after on the RPCs, 503 with Retry-After on /extract', async () => {
    assert.equal((await fetch(`${server.baseUrl}/healthz`)).status, 503);
    const client = createClient(FaceService, createConnectTransport({ baseUrl: server.baseUrl, httpVersion: '1.1' }));
    await assert.rejects(client.extract({ images: [{ data: bbt3 }] }), (err) => {
      rpcCode(Code.Unavailable)(err);
      assert.equal((err as ConnectError).metadata.get('retry-after'), '1');
      return true;
    });
    const rest = await fetch(`${server.baseUrl}/extract`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ images: { data: [base64(bbt3)] } }),
    });
    assert.equal(rest.status, 503);
    assert.equal(rest.headers.get('retry-after'), '1');
    assert.equal((await fetch(`${server.baseUrl}/healthz`)).status, 503, 'still loading: the answers above were given while loading');
  });
});

describe('internal error text', () => {
  it('a worker failure answers "processing failed" with the request id only; the detail is logged under that id', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'facerest-kinds-'));
    const marker = join(dir, 'die');
    process.env.FACEREST_TEST_DIE_ONCE = marker;
    const pool = await WorkerPool.start({ models: selectModels({}), open: {} }, 1, { script: new URL('./helpers/fragile-worker.js', import.meta.url) });
    const lines: Record<string, unknown>[] = [];
    const log = pino(new Writable({ write(chunk, _enc, done) { lines.push(JSON.parse(String(chunk))); done(); } }));
    try {
      const limits = { maxBodyBytes: 1 << 26, maxImages: 8, maxImageBytes: 1 << 25, maxPixels: 1e8, maxStreamImages: 10 };
      const extractor = new Extractor(pool, {
        limits, admission: new Admission(8), metrics: new Metrics(() => 0, () => 0),
        pixels: new FifoBudget(1e8), maxFaces: 0, imageBudgetMs: 0, draining: new AbortController().signal, log,
      });
      const png = await sharp({ create: { width: 64, height: 64, channels: 3, background: '#888' } }).png().toBuffer();
      writeFileSync(marker, '');
      const res = await extractor.extract(create(ExtractRequestSchema, { images: [{ data: png }] }), { reqId: 'req-kinds-1' });
      assert.equal(res.results[0].error?.code, ImageErrorCode.PROCESSING_FAILED);
      const error = res.results[0].error?.message ?? '';
      assert.match(error, /^processing failed/);
      assert.match(error, /req-kinds-1/);
      assert.doesNotMatch(error, /worker|exited|code 7/, 'no internal detail in the answer');
      const logged = lines.find((l) => l.reqId === 'req-kinds-1');
      assert.ok(logged, JSON.stringify(lines));
      assert.match(JSON.stringify(logged), /inference worker exited \(code 7\)/);
      // Closing the pool while it replaces the dead worker would leave the new one running.
      for (let i = 0; i < 100 && pool.size < 1; i++) await new Promise((r) => setTimeout(r, 100));
    } finally {
      await pool.close();
      delete process.env.FACEREST_TEST_DIE_ONCE;
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
