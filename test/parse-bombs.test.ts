/**
 * A request's parsing cost is bounded by the image limit before anything is built: the legacy
 * JSON is counted while it arrives (stopping at the 257th entry), protobuf bodies are walked on
 * the wire before Connect decodes them, Connect JSON is counted the same way, and every message
 * (the open health check's too) has a field budget. Measured before (issue 10, and again on this
 * machine): 20 million empty strings ran the heap out of memory after 34 s; 2 million took 1.9 s
 * and 813 MB; 64 MB of `0a 00` over gRPC froze the event loop for 11.4 s at 3.4 GB; its gzip
 * for 14.5 s; 6 million `{}` over Connect JSON 4.8 s; 63 MB of unknown fields in a health check
 * 8.0 s at 3.8 GB. Each case below prints its time, peak RSS and the worst /healthz latency a
 * good client saw.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it, type TestContext } from 'node:test';
import { gzipSync } from 'node:zlib';
import { envelope, h1Call, h2Call, latencyProbe, peakRss, type RawAnswer } from './helpers/raw.js';
import { startServer, type TestServer } from './helpers/server.js';

const EXTRACT = '/facerest.v1.FaceService/Extract';
const GRPC = { ':path': EXTRACT, 'content-type': 'application/grpc', te: 'trailers' };
const grpcStatus = (a: RawAnswer) => a.trailers['grpc-status'] ?? a.headers['grpc-status'];
const grpcMessage = (a: RawAnswer) => decodeURIComponent(a.trailers['grpc-message'] ?? a.headers['grpc-message'] ?? '');

/** The legacy body of the issue: `count` empty strings in images.data. */
function emptyStrings(count: number): Buffer {
  return Buffer.concat([Buffer.from('{"images":{"data":['), Buffer.alloc(3 * count - 1, '"",'), Buffer.from(']}}')]);
}

describe('parse bombs', () => {
  let server: TestServer;
  before(async () => { server = await startServer(); });
  after(async () => { await server.stop(); });

  /** Runs `attack` while a good client polls /healthz; reports and bounds the cost. */
  async function measured(t: TestContext, label: string, attack: () => Promise<RawAnswer>): Promise<RawAnswer> {
    const stop = latencyProbe(server.baseUrl);
    const started = performance.now();
    let run: { result: RawAnswer; beforeMb: number; peakMb: number };
    let probe: { maxMs: number; samples: number };
    try {
      run = await peakRss(server.process.pid!, attack);
    } finally {
      // Stopped however the attack ends, or the probe would keep the test process alive.
      probe = await stop();
    }
    const { result, beforeMb, peakMb } = run;
    const { maxMs, samples } = probe;
    const seconds = (performance.now() - started) / 1000;
    t.diagnostic(`${label}: answered ${result.status} in ${seconds.toFixed(2)} s; RSS ${beforeMb.toFixed(0)} -> peak ${peakMb.toFixed(0)} MB; `
      + `worst /healthz ${maxMs.toFixed(0)} ms over ${samples} probes`);
    // Bounds far above what was measured after the fix (see the diagnostics: tens of ms and tens
    // of MB above the body itself) and far below what was measured before (seconds, gigabytes).
    assert.ok(maxMs < 2000, `a good client waited ${maxMs.toFixed(0)} ms`);
    assert.ok(peakMb - beforeMb < 600, `RSS grew by ${(peakMb - beforeMb).toFixed(0)} MB`);
    return result;
  }

  it('POST /extract: entries are counted while the body arrives; the 257th ends it, the rest is never awaited', async () => {
    const body = emptyStrings(20_000_000);
    const head = ['POST /extract HTTP/1.1', 'host: x', 'content-type: application/json', `content-length: ${body.length}`].join('\r\n');
    const answer = await h1Call(server.port, head, body.subarray(0, 64 * 1024), { keepOpen: true, timeoutMs: 5000 });
    assert.equal(answer.status, 413);
    assert.match(JSON.parse(answer.body.toString()).error, /more than 256 images .*limit of 256/);
  });

  it('POST /extract: 20 million empty strings (60 MB) answer 413 at once', async (t) => {
    const body = emptyStrings(20_000_000);
    const head = ['POST /extract HTTP/1.1', 'host: x', 'content-type: application/json', `content-length: ${body.length}`].join('\r\n');
    const answer = await measured(t, '20 M empty strings', () => h1Call(server.port, head, body, { timeoutMs: 30_000 }));
    assert.equal(answer.status, 413);
  });

  it('gRPC: 64 MB of empty images (0a 00 repeated) is refused as a limit before Connect decodes it', async (t) => {
    const message = Buffer.alloc(64 * 1024 * 1024 - 16, Buffer.from([0x0a, 0x00]));
    const answer = await measured(t, '64 MB of 0a 00', () => h2Call(server.port, GRPC, envelope(message), { timeoutMs: 30_000 }));
    assert.equal(grpcStatus(answer), '3');
    assert.match(grpcMessage(answer), /more than 256 images/);
  });

  it('gRPC: the same message gzip-compressed (grpc-encoding: gzip) is refused the same way', async (t) => {
    const message = gzipSync(Buffer.alloc(64 * 1024 * 1024 - 16, Buffer.from([0x0a, 0x00])));
    const answer = await measured(t, '64 MB of 0a 00, gzipped', () => h2Call(server.port, { ...GRPC, 'grpc-encoding': 'gzip' },
      envelope(message, 1), { timeoutMs: 30_000 }));
    assert.equal(grpcStatus(answer), '3');
    assert.match(grpcMessage(answer), /more than 256 images/);
  });

  it('gRPC: a body that never ends is refused once its first 257 images have arrived', async () => {
    const first = Buffer.alloc(64 * 1024, Buffer.from([0x0a, 0x00]));
    const answer = await h2Call(server.port, GRPC, envelope(first, 0, 64 * 1024 * 1024 - 16), { keepOpen: true, timeoutMs: 5000 });
    assert.equal(grpcStatus(answer), '3');
    assert.match(grpcMessage(answer), /more than 256 images/);
  });

  it('Connect JSON: 6 million empty images are refused the same way', async (t) => {
    const body = Buffer.concat([Buffer.from('{"images":['), Buffer.alloc(3 * 6_000_000 - 1, '{},'), Buffer.from(']}')]);
    const answer = await measured(t, '6 M {} in Connect JSON', () => h2Call(server.port,
      { ':path': EXTRACT, 'content-type': 'application/json' }, body, { timeoutMs: 30_000 }));
    assert.equal(answer.status, 400);
    const error = JSON.parse(answer.body.toString());
    assert.equal(error.code, 'invalid_argument');
    assert.match(error.message, /more than 256 images/);
  });

  it('the open health check: 63 MB of unknown fields is refused by the field budget', async (t) => {
    const message = Buffer.alloc(63 * 1024 * 1024, Buffer.from([0xf8, 0x07, 0x00])); // field 127, varint 0
    const answer = await measured(t, '63 MB of unknown fields in Health/Check', () => h2Call(server.port,
      { ':path': '/grpc.health.v1.Health/Check', 'content-type': 'application/grpc', te: 'trailers' }, envelope(message), { timeoutMs: 30_000 }));
    assert.equal(grpcStatus(answer), '3');
    assert.match(grpcMessage(answer), /fields/);
  });

  it('the server is up and serving afterwards', async () => {
    assert.equal((await fetch(`${server.baseUrl}/healthz`)).status, 200);
    assert.equal(server.process.exitCode, null);
  });
});
