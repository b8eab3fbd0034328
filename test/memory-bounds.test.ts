/**
 * Memory held for peers that stall (the item 14, connection-level parts), scaled down:
 * 30 uploads of 20 MiB that stop 1 MiB short, over HTTP/1.1 (REST and Connect) and as 30
 * HTTP/2 streams on one connection; and responses a client never reads. Bodies in memory are
 * bounded by the request-body budget (128 MiB here): beyond it a request is refused at once as
 * overloaded (429 / RESOURCE_EXHAUSTED, with the retry hint); stalled bodies are cut at the body
 * timeout and their budget released; unread responses are dropped at the write timeout (and
 * not counted as answered). Server RSS is read from /proc and printed.
 *
 * Before: every stalled upload was held in full, nothing was ever cut (measured in the issue: 30
 * stalled 60 MB uploads held 2.26 GB, 30 stalled HTTP/2 streams 1.9 GB).
 */
import { create, toBinary } from '@bufbuild/protobuf';
import assert from 'node:assert/strict';
import { constants } from 'node:http2';
import { after, before, describe, it, type TestContext } from 'node:test';
import { RawClient, assertServed, h2connect, rssMiB, sleep, streamOutcome, waitFor } from './helpers/attack.js';
import { ExtractRequestSchema } from '../gen/facerest/v1/face_service_pb.js';
import { BBT, readFace } from './helpers/data.js';
import { base64 } from './helpers/legacy.js';
import { eventually, metricValue, scrape } from './helpers/metrics.js';
import { startServer, type TestServer } from './helpers/server.js';

const BUDGET_MIB = 128;
const BODY_S = 2;
const WRITE_S = 2;
const UPLOADS = 30;
const DECLARED = 20 << 20;
const SENT = 19 << 20;
/**
 * Peak RSS growth allowed while 30 uploads stall: the budget plus room for copies and the good
 * clients' requests. Measured here: 150 to 230 MiB with the budget; 700+ MiB without it.
 */
const MAX_GROWTH_MIB = BUDGET_MIB + 250;

/**
 * The first bytes of a binary ExtractRequest of `total` bytes holding one image: field 1
 * (images), then the Image's field 1 (data); the image bytes follow. Lengths as 4-byte varints.
 */
function oneImageRequestPrefix(total: number): Buffer {
  const varint4 = (n: number) => Buffer.from([(n & 0x7f) | 0x80, ((n >> 7) & 0x7f) | 0x80, ((n >> 14) & 0x7f) | 0x80, (n >> 21) & 0x7f]);
  const data = total - 10;
  return Buffer.concat([Buffer.from([0x0a]), varint4(data + 5), Buffer.from([0x0a]), varint4(data)]);
}

/** Samples the server's RSS every 100 ms until stopped; returns the peak. */
function sampleRss(server: TestServer): { stop(): number } {
  let peak = rssMiB(server.process.pid!);
  const timer = setInterval(() => { peak = Math.max(peak, rssMiB(server.process.pid!)); }, 100);
  return { stop() { clearInterval(timer); return Math.max(peak, rssMiB(server.process.pid!)); } };
}

describe(`memory held for stalled peers (budget ${BUDGET_MIB} MiB, body and write timeouts ${BODY_S} s)`, () => {
  let server: TestServer;
  before(async () => {
    server = await startServer({
      FACEREST_BODY_BUDGET_BYTES: String(BUDGET_MIB << 20),
      FACEREST_BODY_TIMEOUT_SECONDS: String(BODY_S),
      FACEREST_WRITE_TIMEOUT_SECONDS: String(WRITE_S),
      // Room for all the unread responses' images at once (none refused as busy).
      FACEREST_MAX_QUEUE: '256',
    });
  });
  after(async () => { await server.stop(); });

  it(`${UPLOADS} stalled HTTP/1.1 uploads (REST and Connect): the budget refuses the rest at once, stalled ones are cut, memory is bounded`, { timeout: 120_000 }, async (t: TestContext) => {
    const before = rssMiB(server.process.pid!);
    const rss = sampleRss(server);
    const clients = Array.from({ length: UPLOADS }, () => new RawClient(server.port));
    await Promise.all(clients.map(async (c, i) => {
      await c.connected();
      const [path, type] = i % 2 ? ['/extract', 'application/json'] : ['/facerest.v1.FaceService/Extract', 'application/proto'];
      c.write(`POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Type: ${type}\r\nContent-Length: ${DECLARED}\r\n\r\n`);
      // The Connect body is a well-formed ExtractRequest whose one image is still arriving (the
      // server refuses malformed protobuf at once, so garbage would not stall).
      if (type === 'application/proto') c.write(oneImageRequestPrefix(DECLARED));
      await c.pump(SENT, 256 << 10);
    }));
    await sleep(300);
    const refused = clients.filter((c) => c.status === 429);
    const held = clients.filter((c) => c.status === undefined);
    // Good clients are served while the stalled uploads hold their share.
    await assertServed(server);
    const peak = rss.stop();
    t.diagnostic(`RSS before ${before} MiB, peak ${peak} MiB; ${held.length} uploads held, ${refused.length} refused`);
    assert.equal(refused.length + held.length, UPLOADS, `statuses: ${clients.map((c) => c.status).join(',')}`);
    assert.ok(held.length >= 1 && held.length <= Math.ceil(BUDGET_MIB / (DECLARED >> 20)), `${held.length} held`);
    for (const c of refused) {
      assert.match(c.text, /Retry-After: 1\r\n/i);
      assert.match(c.text, /server busy: \d+ MiB of request bodies in memory \(limit 128 MiB\)/);
    }
    assert.ok(peak - before < MAX_GROWTH_MIB, `RSS grew by ${peak - before} MiB`);

    // The stalled ones are cut at the body timeout (408), and their budget comes back.
    assert.ok(await waitFor(() => held.every((c) => c.endedAt !== undefined), (BODY_S + 5) * 1000), 'stalled uploads cut');
    for (const c of held) assert.equal(c.status, 408);
    for (const c of clients) c.destroy();
    // A 19 MiB upload (one photo and JSON whitespace) did not fit while they stalled; now it does.
    const padded = JSON.stringify({ images: { data: [base64(readFace(BBT[1]))] } }).padEnd(SENT, ' ');
    const admitted = await fetch(`${server.baseUrl}/extract`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: padded,
    });
    assert.equal(admitted.status, 200, 'a large upload is admitted once the stalled ones are gone');
    await sleep(500);
    t.diagnostic(`RSS after the stalled uploads were cut: ${rssMiB(server.process.pid!)} MiB`);
  });

  it(`${UPLOADS} stalled HTTP/2 gRPC streams on one connection: RESOURCE_EXHAUSTED beyond the budget, the rest reset`, { timeout: 120_000 }, async (t: TestContext) => {
    const before = rssMiB(server.process.pid!);
    const rss = sampleRss(server);
    // Node's client counts its own queued uploads as session memory and would refuse the
    // answers (item 16 of the issue); switch that off, as the project's client does.
    const { session } = h2connect(server.port, { maxSessionMemory: Number.MAX_SAFE_INTEGER });
    try {
      const prefix = Buffer.alloc(5);
      prefix.writeUInt32BE(DECLARED - 5, 1);
      const chunk = Buffer.alloc(1 << 20, 0x0a);
      const streams = Array.from({ length: UPLOADS }, () => session.request({
        ':method': 'POST', ':path': '/facerest.v1.FaceService/Extract', 'content-type': 'application/grpc', te: 'trailers',
      }));
      const outcomes = streams.map((s) => {
        let grpcStatus: string | undefined;
        s.on('response', (h) => { grpcStatus ??= h['grpc-status'] as string | undefined; });
        s.on('trailers', (h) => { grpcStatus ??= h['grpc-status'] as string | undefined; });
        return streamOutcome(s).then((o) => ({ ...o, grpcStatus }));
      });
      await Promise.all(streams.map(async (s) => {
        s.write(Buffer.concat([prefix, oneImageRequestPrefix(DECLARED - 5)]));
        for (let sent = 0; sent < SENT && !s.destroyed && !s.closed; sent += chunk.length) {
          if (!s.write(chunk) && !s.destroyed) await Promise.race([new Promise((r) => s.once('drain', r)), new Promise((r) => s.once('close', r))]);
        }
      }));
      await assertServed(server);
      const peak = rss.stop();
      const results = await Promise.all(outcomes);
      const exhausted = results.filter((r) => r.grpcStatus === '8');
      const reset = results.filter((r) => r.grpcStatus === undefined && r.rstCode === constants.NGHTTP2_CANCEL);
      t.diagnostic(`RSS before ${before} MiB, peak ${peak} MiB; ${exhausted.length} RESOURCE_EXHAUSTED, ${reset.length} reset after stalling`);
      assert.equal(exhausted.length + reset.length, UPLOADS, JSON.stringify(results.map((r) => [r.grpcStatus, r.rstCode])));
      assert.ok(exhausted.length >= UPLOADS - Math.ceil(BUDGET_MIB / (DECLARED >> 20)));
      assert.ok(peak - before < MAX_GROWTH_MIB, `RSS grew by ${peak - before} MiB`);
    } finally {
      session.destroy();
    }
  });

  it('responses a client never reads are dropped at the write timeout, and not counted as answered', { timeout: 120_000 }, async (t: TestContext) => {
    const UNREAD = 20;
    const body = JSON.stringify({ images: { data: BBT.map((f) => base64(readFace(f))) }, return_face_data: true });
    const before = rssMiB(server.process.pid!);
    const count = (m: string, outcome: string) => metricValue(m, 'facerest_requests_total', { protocol: 'rest', outcome });
    const initially = await scrape(server.baseUrl);
    const { session } = h2connect(server.port);
    try {
      const streams = Array.from({ length: UNREAD }, () => {
        const s = session.request({ ':method': 'POST', ':path': '/extract', 'content-type': 'application/json' });
        s.end(body);
        s.pause(); // never read: the flow-control window stays shut
        return streamOutcome(s);
      });
      const outcomes = await Promise.all(streams);
      t.diagnostic(`RSS before ${before} MiB, after the unread responses were dropped ${rssMiB(server.process.pid!)} MiB`);
      for (const o of outcomes) assert.equal(o.rstCode, constants.NGHTTP2_CANCEL);
      const dropped = (m: string) => count(m, 'disconnected') - count(initially, 'disconnected');
      const text = await eventually(server.baseUrl, (m) => dropped(m) >= UNREAD);
      assert.equal(dropped(text), UNREAD);
      assert.equal(count(text, '200'), count(initially, '200'), 'none counted as answered');
    } finally {
      session.destroy();
    }
    await assertServed(server);
  });

  it('gRPC answers a client never reads are dropped at the write timeout, and counted as disconnected, not ok', { timeout: 120_000 }, async () => {
    const UNREAD = 10;
    const message = toBinary(ExtractRequestSchema, create(ExtractRequestSchema, {
      images: BBT.map((f) => ({ data: readFace(f) })), options: { returnAlignedFace: true },
    }));
    const framed = Buffer.concat([Buffer.from([0, 0, 0, 0, 0]), message]);
    framed.writeUInt32BE(message.length, 1);
    const count = (m: string, outcome: string) => metricValue(m, 'facerest_requests_total', { protocol: 'grpc', method: 'Extract', outcome });
    const initially = await scrape(server.baseUrl);
    const { session } = h2connect(server.port);
    try {
      const outcomes = await Promise.all(Array.from({ length: UNREAD }, () => {
        const s = session.request({ ':method': 'POST', ':path': '/facerest.v1.FaceService/Extract', 'content-type': 'application/grpc', te: 'trailers' });
        s.end(framed);
        s.pause(); // never read
        return streamOutcome(s);
      }));
      for (const o of outcomes) assert.equal(o.rstCode, constants.NGHTTP2_CANCEL);
      const dropped = (m: string) => count(m, 'disconnected') - count(initially, 'disconnected');
      const text = await eventually(server.baseUrl, (m) => dropped(m) >= UNREAD);
      assert.equal(dropped(text), UNREAD);
      assert.equal(count(text, 'ok'), count(initially, 'ok'), 'none counted as answered');
    } finally {
      session.destroy();
    }
  });
});
