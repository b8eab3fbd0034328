/**
 * API keys are checked from the headers, before any body byte is read, on every protocol: a
 * request with a wrong key and a body that never ends gets its refusal at once (before, Connect
 * read and parsed up to the 64 MB body limit before the key was looked at). gRPC gets a
 * trailers-only UNAUTHENTICATED, gRPC-Web the same in its headers, Connect unary a 401 with its
 * JSON error, Connect streaming its end-of-stream error (the Connect protocol answers streams
 * with 200), REST a 401. Health checks, /healthz, /metrics and the page stay open, and the
 * refusals are logged and counted as before.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { create, toBinary } from '@bufbuild/protobuf';
import { Code, ConnectError, createClient } from '@connectrpc/connect';
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from '@connectrpc/connect-node';
import * as grpc from '@grpc/grpc-js';
import { FaceGrpcClient } from '../clients/node/grpc-client.js';
import { ExtractRequestSchema, FaceService } from '../gen/facerest/v1/face_service_pb.js';
import { Health, HealthCheckResponse_ServingStatus as Status } from '../gen/grpc/health/v1/health_pb.js';
import { BBT, readFace } from './helpers/data.js';
import { metricValue, scrape } from './helpers/metrics.js';
import { envelope, h1Call, h2Call } from './helpers/raw.js';
import { startServer, type TestServer } from './helpers/server.js';

const KEY = 'k-0123456789abcdef-one';
const WRONG = { authorization: 'Bearer k-0123456789abcdef-bad' };
const bbt3 = readFace(BBT[2]);
const EXTRACT = '/facerest.v1.FaceService/Extract';
const STREAM = '/facerest.v1.FaceService/ExtractStream';
// Measured: these refusals take a few ms; before the fix no answer ever came (the body never ends).
const AT_ONCE = { keepOpen: true, timeoutMs: 5000 };

/** The first 64 KiB of a request whose message claims 1 MB: Connect would wait for the rest. */
const partialMessage = () => envelope(Buffer.alloc(64 * 1024, 0x0a), 0, 1_000_000);

describe('API keys are checked before the body', () => {
  let server: TestServer;
  before(async () => { server = await startServer({ FACEREST_API_KEYS: KEY }); });
  after(async () => { await server.stop(); });

  it('gRPC: a trailers-only UNAUTHENTICATED (HTTP 200, status in the HEADERS frame) without reading the body', async () => {
    const answer = await h2Call(server.port, {
      ':path': EXTRACT, 'content-type': 'application/grpc', te: 'trailers', ...WRONG,
    }, partialMessage(), AT_ONCE);
    assert.equal(answer.status, 200);
    assert.equal(answer.endStream, true, 'the HEADERS frame ends the stream: trailers-only');
    assert.match(answer.headers['content-type'], /^application\/grpc/);
    assert.equal(answer.headers['grpc-status'], String(grpc.status.UNAUTHENTICATED));
    assert.match(decodeURIComponent(answer.headers['grpc-message']), /API key is required/);
    assert.equal(answer.body.length, 0);
  });

  it('gRPC-Web: HTTP 200 with grpc-status 16 in the headers, without reading the body', async () => {
    const answer = await h2Call(server.port, {
      ':path': EXTRACT, 'content-type': 'application/grpc-web+proto', ...WRONG,
    }, partialMessage(), AT_ONCE);
    assert.equal(answer.status, 200);
    assert.match(answer.headers['content-type'], /^application\/grpc-web/);
    assert.equal(answer.headers['grpc-status'], '16');
    assert.match(decodeURIComponent(answer.headers['grpc-message']), /API key is required/);
  });

  it('Connect unary: 401 with the Connect JSON error, without reading the body', async () => {
    const answer = await h2Call(server.port, {
      ':path': EXTRACT, 'content-type': 'application/proto', 'content-length': '1000000', ...WRONG,
    }, Buffer.alloc(64 * 1024, 0x0a), AT_ONCE);
    assert.equal(answer.status, 401);
    assert.match(answer.headers['content-type'], /^application\/json/);
    const error = JSON.parse(answer.body.toString());
    assert.equal(error.code, 'unauthenticated');
    assert.match(error.message, /API key is required/);
  });

  it('Connect streaming: HTTP 200 and an end-of-stream message carrying unauthenticated, without reading the body', async () => {
    const answer = await h2Call(server.port, {
      ':path': STREAM, 'content-type': 'application/connect+proto', ...WRONG,
    }, partialMessage(), AT_ONCE);
    assert.equal(answer.status, 200);
    assert.match(answer.headers['content-type'], /^application\/connect\+proto/);
    assert.equal(answer.body[0], 0b10, 'an end-of-stream envelope');
    const end = JSON.parse(answer.body.subarray(5, 5 + answer.body.readUInt32BE(1)).toString());
    assert.equal(end.error.code, 'unauthenticated');
  });

  it('HTTP/1.1: Connect and gRPC-Web with a chunked body that never ends are refused at once; so is POST /extract', async () => {
    const head = (path: string, type: string) => [
      `POST ${path} HTTP/1.1`, 'host: x', `content-type: ${type}`, 'transfer-encoding: chunked', `authorization: ${WRONG.authorization}`,
    ].join('\r\n');
    const chunk = `10000\r\n${'a'.repeat(0x10000)}\r\n`;
    const connect = await h1Call(server.port, head(EXTRACT, 'application/json'), chunk, AT_ONCE);
    assert.equal(connect.status, 401);
    assert.equal(JSON.parse(connect.body.toString()).code, 'unauthenticated');
    const web = await h1Call(server.port, head(EXTRACT, 'application/grpc-web+proto'), chunk, AT_ONCE);
    assert.equal(web.status, 200);
    assert.equal(web.headers['grpc-status'], '16');
    const rest = await h1Call(server.port, head('/extract', 'application/json'), chunk, AT_ONCE);
    assert.equal(rest.status, 401);
    assert.equal(rest.headers['www-authenticate'], 'Bearer');
  });

  it('a wrong key with a body that is not even a valid message still gets UNAUTHENTICATED, not a parse error', async () => {
    const answer = await h2Call(server.port, {
      ':path': EXTRACT, 'content-type': 'application/grpc', te: 'trailers', ...WRONG,
    }, envelope(Buffer.from([0xff, 0xff, 0xff])));
    assert.equal(answer.headers['grpc-status'] ?? answer.trailers['grpc-status'], '16');
  });

  it('real clients: grpc-js and the Connect, gRPC and gRPC-Web transports get UNAUTHENTICATED; with the key they are served', async () => {
    const grpcJs = new FaceGrpcClient(server.address);
    try {
      await assert.rejects(grpcJs.extract({ images: [{ data: bbt3 }] }, { metadata: WRONG }),
        (err: grpc.ServiceError) => err.code === grpc.status.UNAUTHENTICATED && /API key is required/.test(err.details));
      await assert.rejects(async () => {
        for await (const _ of grpcJs.extractStream([{ id: 'a', image: { data: bbt3 } }], { metadata: WRONG })) { /* none */ }
      }, (err: grpc.ServiceError) => err.code === grpc.status.UNAUTHENTICATED);
      const ok = await grpcJs.extract({ images: [{ data: bbt3 }] }, { metadata: { 'x-api-key': KEY } });
      assert.ok(ok.results[0].faces.length > 0);
    } finally {
      grpcJs.close();
    }
    const transports = {
      connect: createConnectTransport({ baseUrl: server.baseUrl, httpVersion: '2' }),
      'connect (HTTP/1.1)': createConnectTransport({ baseUrl: server.baseUrl, httpVersion: '1.1' }),
      grpc: createGrpcTransport({ baseUrl: server.baseUrl }),
      'grpc-web': createGrpcWebTransport({ baseUrl: server.baseUrl, httpVersion: '2' }),
      'grpc-web (HTTP/1.1)': createGrpcWebTransport({ baseUrl: server.baseUrl, httpVersion: '1.1' }),
    };
    for (const [name, transport] of Object.entries(transports)) {
      const client = createClient(FaceService, transport);
      const unauthenticated = (err: unknown) => err instanceof ConnectError && err.code === Code.Unauthenticated
        && /API key is required/.test(err.rawMessage);
      await assert.rejects(client.extract({ images: [{ data: bbt3 }] }, { headers: WRONG }), unauthenticated, `${name} extract`);
      await assert.rejects(client.info({}), unauthenticated, `${name} info without a key`);
      if (!name.includes('HTTP/1.1')) {
        await assert.rejects(async () => {
          for await (const _ of client.extractStream((async function* () { yield { id: 'a', image: { data: bbt3 } }; })(), { headers: WRONG })) { /* none */ }
        }, unauthenticated, `${name} extractStream`);
      }
      const served = await client.extract({ images: [{ data: bbt3 }] }, { headers: { authorization: `Bearer ${KEY}` } });
      assert.ok(served.results[0].faces.length > 0, `${name} with the key`);
    }
  });

  it('refusals are still logged and counted per protocol', async () => {
    const text = await scrape(server.baseUrl);
    for (const protocol of ['grpc', 'grpc-web', 'connect']) {
      assert.ok(metricValue(text, 'facerest_requests_total', { protocol, outcome: 'unauthenticated' }) > 0, protocol);
    }
    assert.ok(metricValue(text, 'facerest_rejected_total', { reason: 'unauthenticated' }) >= 10);
    const logged = server.logs().filter((l) => l.msg === 'rpc' && l.outcome === 'unauthenticated');
    assert.ok(logged.some((l) => l.method === 'Extract' && l.protocol === 'grpc'), JSON.stringify(logged.slice(0, 3)));
    assert.ok(logged.every((l) => typeof l.reqId === 'string' && (l.reqId as string).length > 0));
  });

  it('health checks, /healthz, /metrics and the page stay open', async () => {
    assert.equal((await fetch(`${server.baseUrl}/healthz`)).status, 200);
    assert.equal((await fetch(`${server.baseUrl}/metrics`)).status, 200);
    assert.equal((await fetch(`${server.baseUrl}/`)).status, 200);
    for (const transport of [createGrpcTransport({ baseUrl: server.baseUrl }), createConnectTransport({ baseUrl: server.baseUrl, httpVersion: '1.1' })]) {
      const health = createClient(Health, transport);
      assert.equal((await health.check({ service: '' })).status, Status.SERVING);
    }
    // A keyed request body is still read and served in full (the gate does not eat it).
    const body = toBinary(ExtractRequestSchema, create(ExtractRequestSchema, { images: [{ data: bbt3 }] }));
    const answer = await h2Call(server.port, { ':path': EXTRACT, 'content-type': 'application/proto', 'x-api-key': KEY }, body);
    assert.equal(answer.status, 200);
  });
});
