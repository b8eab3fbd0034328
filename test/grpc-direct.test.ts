/**
 * Plain unary gRPC calls of Extract, Enroll, Identify and Verify are served without Connect's
 * per-call machinery (server/rpc/grpc-direct.ts); every other shape of call goes to Connect. Both
 * must answer alike: the same message for the same request, and Connect's codes and words for
 * every body the direct path hands over. Which path served a call is read from its `rpc` log line.
 */
import { create, toBinary } from '@bufbuild/protobuf';
import * as grpc from '@grpc/grpc-js';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http2 from 'node:http2';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { FaceGrpcClient } from '../clients/node/grpc-client.js';
import { ExtractRequestSchema, ExtractResponseSchema, VerifyResponseSchema } from '../gen/facerest/v1/face_service_pb.js';
import { EnrollResultSchema, GalleryService, IdentifyResponseSchema } from '../gen/facerest/v1/gallery_service_pb.js';
import { sleep } from './helpers/attack.js';
import { BBT, readFace, readShared } from './helpers/data.js';
import { metricValue, scrape } from './helpers/metrics.js';
import { outcome } from './helpers/outcome.js';
import { envelope, grpcStatusOf, h2Call } from './helpers/raw.js';
import { startServer, type TestServer } from './helpers/server.js';

const PATH = '/facerest.v1.FaceService/Extract';
const GRPC = { ':path': PATH, 'content-type': 'application/grpc', te: 'trailers' };

const requestBytes = (files: string[]) => toBinary(ExtractRequestSchema, create(ExtractRequestSchema, {
  images: files.map((f) => ({ data: readFace(f) })), options: { maxSize: 640 },
}));

/** The `rpc` log line of the call whose answer carried `reqId`. */
async function rpcLine(server: TestServer, reqId: string): Promise<Record<string, unknown>> {
  for (let i = 0; i < 100; i++) {
    const line = server.logs().find((l) => l.msg === 'rpc' && l.reqId === reqId);
    if (line) return line;
    await sleep(20);
  }
  throw new Error(`no rpc log line for ${reqId}`);
}

/** grpc-js compresses its requests with gzip when asked (grpc-encoding: gzip): Connect's path. */
const gzippedClient = (server: TestServer) =>
  new FaceGrpcClient(server.address, undefined, { 'grpc.default_compression_algorithm': grpc.compressionAlgorithms.gzip });

describe('the direct gRPC path', () => {
  let server: TestServer;

  before(async () => { server = await startServer(); });
  after(async () => { await server.stop(); });

  it('serves a grpc-js call directly and answers what Connect answers for a gzipped one', async () => {
    const files = [BBT[0], 'deepface/img1.jpg', BBT[2]];
    const images = files.map((f) => ({ data: readFace(f) }));
    // A broken image fails alone on both paths.
    images.splice(1, 0, { data: Buffer.from('not an image at all') });
    const plain = new FaceGrpcClient(server.address);
    const gzipped = gzippedClient(server);
    try {
      const direct = await plain.extract({ images, options: { maxSize: 640 } }, { metadata: { 'x-request-id': 'direct-1' } });
      const viaConnect = await gzipped.extract({ images, options: { maxSize: 640 } }, { metadata: { 'x-request-id': 'connect-1' } });
      assert.deepEqual(direct.results.map((r) => r.faces.length), [4, 0, 1, 5]);
      assert.match(direct.results[1].error?.message ?? '', /not a known image format/);
      assert.deepEqual(Buffer.from(toBinary(ExtractResponseSchema, direct)), Buffer.from(toBinary(ExtractResponseSchema, viaConnect)));
      assert.equal((await rpcLine(server, 'direct-1')).direct, true);
      assert.equal((await rpcLine(server, 'connect-1')).direct, undefined);
      assert.equal((await rpcLine(server, 'direct-1')).outcome, 'ok');
    } finally {
      plain.close();
      gzipped.close();
    }
  });

  it('reads a message that arrives in pieces, its 5-byte head split too', async () => {
    const body = envelope(requestBytes([BBT[1]]));
    const session = http2.connect(server.baseUrl);
    try {
      const stream = session.request({ ':method': 'POST', ...GRPC, 'x-request-id': 'pieces-1' }, { endStream: false });
      const cuts = [0, 2, 5, 9, 4000, body.length];
      for (let i = 1; i < cuts.length; i++) {
        stream.write(body.subarray(cuts[i - 1], cuts[i]));
        await sleep(30);
      }
      stream.end();
      const chunks: Buffer[] = [];
      stream.on('data', (d: Buffer) => chunks.push(d));
      const [trailers] = await once(stream, 'trailers') as [http2.IncomingHttpHeaders];
      assert.equal(trailers['grpc-status'], '0');
      const answer = Buffer.concat(chunks);
      assert.equal(answer.readUInt32BE(1), answer.length - 5);
      assert.equal((await rpcLine(server, 'pieces-1')).direct, true);
    } finally {
      session.close();
    }
  });

  it('ends a call past its grpc-timeout with DEADLINE_EXCEEDED', async () => {
    const answer = await h2Call(server.port, { ...GRPC, 'grpc-timeout': '1n', 'x-request-id': 'deadline-1' }, envelope(requestBytes([BBT[1]])));
    assert.deepEqual(grpcStatusOf(answer), { status: '4', message: 'the operation timed out' });
    const line = await rpcLine(server, 'deadline-1');
    assert.equal(line.direct, true);
    assert.equal(line.outcome, 'deadline_exceeded');
  });

  // What each odd body gets, in Connect's words (as captured from Connect before the direct path
  // existed); each is handed over, so its log line does not say direct.
  const handedOver: [string, Record<string, string>, Buffer, string, string][] = [
    ['a second message', {}, Buffer.concat([envelope(requestBytes([BBT[1]])), envelope(Buffer.alloc(0))]),
      '12', 'protocol error: received extra input message for unary method'],
    ['no message', {}, Buffer.alloc(0), '12', 'protocol error: missing input message for unary method'],
    ['a compressed flag without an encoding', {}, envelope(Buffer.from([1, 2]), 1),
      '13', 'received compressed envelope, but do not know how to decompress'],
    ['a message that is not protobuf', {}, envelope(Buffer.from([0xff, 0xff])), '3', 'invalid protobuf message: truncated varint'],
    ['more images than the limit', {}, envelope(toBinary(ExtractRequestSchema, create(ExtractRequestSchema, {
      images: Array.from({ length: 300 }, () => ({ data: Buffer.from('x') })),
    }))), '3', 'more than 256 images in one request, over the limit of 256'],
    ['a malformed grpc-timeout', { 'grpc-timeout': 'soon' }, envelope(requestBytes([BBT[1]])),
      '3', 'protocol error: invalid grpc timeout value: soon'],
  ];
  for (const [name, headers, body, status, message] of handedOver) {
    it(`hands ${name} to Connect, which refuses it`, async () => {
      const reqId = `handed-${name.replace(/\W+/g, '-')}`;
      const answer = await h2Call(server.port, { ...GRPC, ...headers, 'x-request-id': reqId }, body);
      assert.deepEqual(grpcStatusOf(answer), { status, message });
      assert.equal((await rpcLine(server, reqId)).direct, undefined);
    });
  }

  /** Sends `body` (ended or not), then resets the stream after `ms`. */
  async function leave(reqId: string, body: Buffer, end: boolean, ms: number): Promise<void> {
    const session = http2.connect(server.baseUrl);
    const stream = session.request({ ':method': 'POST', ...GRPC, 'x-request-id': reqId }, { endStream: false });
    stream.on('error', () => undefined);
    stream.write(body);
    if (end) stream.end();
    await sleep(ms);
    stream.close(http2.constants.NGHTTP2_CANCEL);
    session.close();
  }

  it('carries on after clients leave mid-message and mid-answer, and counts the calls', async () => {
    const before = metricValue(await scrape(server.baseUrl), 'facerest_requests_total', { protocol: 'grpc', method: 'Extract', outcome: 'ok' });
    // Eight original-size photos: 1.2 to 1.4 s of work on this 2-core machine (measured with one
    // such call at a time), so a reset after 200 ms comes mid-answer.
    const whole = envelope(toBinary(ExtractRequestSchema, create(ExtractRequestSchema, {
      images: Array.from({ length: 8 }, () => ({ data: readFace('deepface/img1.jpg') })), options: { maxSize: 0 },
    })));
    // Half a message, then a reset: a disconnect (before, an HTTP/2 stream reset by its client
    // read as answered, and this was counted 'canceled').
    await leave('left-mid-message', whole.subarray(0, 3000), false, 100);
    assert.equal((await rpcLine(server, 'left-mid-message')).outcome, 'disconnected');
    // A whole message is the direct path's; its client leaves while the photos are in the models.
    await leave('left-mid-answer', whole, true, 200);
    const midAnswer = await rpcLine(server, 'left-mid-answer');
    assert.equal(midAnswer.outcome, 'disconnected');
    assert.equal(midAnswer.direct, true);

    const client = new FaceGrpcClient(server.address);
    try {
      const res = await client.extract({ images: [{ data: readFace(BBT[1]) }] });
      assert.equal(res.results[0].faces.length, 3);
    } finally {
      client.close();
    }
    const text = await scrape(server.baseUrl);
    assert.equal(metricValue(text, 'facerest_requests_total', { protocol: 'grpc', method: 'Extract', outcome: 'ok' }), before + 1);
    assert.equal(metricValue(text, 'facerest_requests_total', { protocol: 'grpc', method: 'Extract', outcome: 'disconnected' }), 2);
  });
});

describe('the direct gRPC path for the gallery\'s photo calls', () => {
  const dir = mkdtempSync(join(tmpdir(), 'facerest-direct-keys-'));
  const ADMIN = 'direct-admin-key-0123456789';
  const SHOP = 'direct-shop-key-0123456789';
  const as = (key: string, reqId: string) => ({ metadata: { authorization: `Bearer ${key}`, 'x-request-id': reqId } });
  const cast = (who: string, n: number) => readShared('faces', 'face-api.js', 'examples', 'images', who, `${who}${n}.png`);
  let server: TestServer;
  let plain: FaceGrpcClient;
  let gzipped: FaceGrpcClient;
  before(async () => {
    writeFileSync(join(dir, 'keys'), `${ADMIN}\n${SHOP} collections=shop\n`);
    server = await startServer({ FACEREST_API_KEYS_FILE: join(dir, 'keys'), FACEREST_DATA_DIR: join(dir, 'data') });
    plain = new FaceGrpcClient(server.address);
    gzipped = gzippedClient(server);
    await plain.call(GalleryService.method.createCollection, { name: 'office' }, as(ADMIN, 'setup-1'));
  });
  after(async () => {
    plain.close();
    gzipped.close();
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves Enroll, Identify and Verify directly, with the answers Connect gives', async () => {
    // Enroll: the same photos (one with a face, one broken) for two subjects, one call each way;
    // the face ids are new on each call, the rest of the answer is the same.
    const enrolment = (subject: string) => ({
      collection: 'office', subject, images: [{ data: cast('amy', 1) }, { data: Buffer.from('not an image') }],
    });
    const enrolled = await plain.call(GalleryService.method.enroll, enrolment('amy'), as(ADMIN, 'enroll-direct'));
    const enrolledViaConnect = await gzipped.call(GalleryService.method.enroll, enrolment('amy-again'), as(ADMIN, 'enroll-connect'));
    assert.equal(enrolled.faceIds.length, 1);
    assert.equal(enrolled.results[0].faceId, enrolled.faceIds[0]);
    assert.match(enrolled.results[1].error?.message ?? '', /not a known image format/);
    const withoutIds = (r: typeof enrolled) => r.results.map((x) => Buffer.from(toBinary(EnrollResultSchema, { ...x, faceId: '' })));
    assert.deepEqual(withoutIds(enrolled), withoutIds(enrolledViaConnect));
    assert.equal((await rpcLine(server, 'enroll-direct')).direct, true);
    assert.equal((await rpcLine(server, 'enroll-connect')).direct, undefined);

    const identify = { collection: 'office', images: [{ data: cast('amy', 2) }, { data: Buffer.from('not an image') }], topK: 2 };
    const direct = await plain.call(GalleryService.method.identify, identify, as(ADMIN, 'identify-direct'));
    const viaConnect = await gzipped.call(GalleryService.method.identify, identify, as(ADMIN, 'identify-connect'));
    assert.deepEqual(direct.results[0].faces[0].matches.map((m) => m.subject).sort(), ['amy', 'amy-again']);
    assert.match(direct.results[1].error?.message ?? '', /not a known image format/);
    assert.deepEqual(Buffer.from(toBinary(IdentifyResponseSchema, direct)), Buffer.from(toBinary(IdentifyResponseSchema, viaConnect)));
    assert.equal((await rpcLine(server, 'identify-direct')).direct, true);
    assert.equal((await rpcLine(server, 'identify-connect')).direct, undefined);

    const photo = (n: number) => ({ input: { case: 'image' as const, value: { data: cast('amy', n) } } });
    const verify = { a: photo(3), b: photo(4) };
    const same = await plain.verify(verify, as(ADMIN, 'verify-direct'));
    assert.equal(same.same, true);
    assert.deepEqual(Buffer.from(toBinary(VerifyResponseSchema, same)),
      Buffer.from(toBinary(VerifyResponseSchema, await gzipped.verify(verify, as(ADMIN, 'verify-connect')))));
    assert.equal((await rpcLine(server, 'verify-direct')).direct, true);
  });

  it('refuses on the direct path as Connect does: a collection outside the key\'s scope, one that does not exist', async () => {
    const refusal = (client: FaceGrpcClient, collection: string, key: string, reqId: string) =>
      outcome(client.call(GalleryService.method.identify, { collection, images: [{ data: cast('amy', 2) }] }, as(key, reqId)));
    const outside = await refusal(plain, 'office', SHOP, 'scope-direct');
    assert.match(outside, /^PERMISSION_DENIED: this API key may not use collection 'office'/);
    assert.equal(outside, await refusal(gzipped, 'office', SHOP, 'scope-connect'));
    const missing = await refusal(plain, 'nowhere', ADMIN, 'missing-direct');
    assert.match(missing, /^NOT_FOUND: .*nowhere/);
    assert.equal(missing, await refusal(gzipped, 'nowhere', ADMIN, 'missing-connect'));
    const line = await rpcLine(server, 'scope-direct');
    assert.equal(line.direct, true);
    assert.equal(line.outcome, 'permission_denied');
  });
});
