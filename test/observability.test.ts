/**
 * Prometheus metrics at /metrics and JSON logs with request ids, after real calls on each
 * protocol.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createFaceClient } from '../clients/node/face-client.js';
import { BBT, readFace } from './helpers/data.js';
import { base64, postExtract } from './helpers/legacy.js';
import { metricValue } from './helpers/metrics.js';
import { serverWithClient } from './helpers/server.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe('observability', () => {
  const fx = serverWithClient();

  it('/metrics counts requests by protocol and outcome, images, faces, worker and model time', async () => {
    await fx.client.extract({ images: [{ data: readFace(BBT[0]) }, { data: Buffer.from('not an image') }] });
    await postExtract(fx.server.baseUrl, { images: { data: [base64(readFace(BBT[1]))] } });
    const connect = createFaceClient({ baseUrl: fx.server.baseUrl, protocol: 'connect' });
    await connect.info();
    connect.close();

    const res = await fetch(`${fx.server.baseUrl}/metrics`);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
    const text = await res.text();
    const v = (name: string, labels?: Record<string, string>) => metricValue(text, name, labels);
    assert.equal(v('facerest_requests_total', { protocol: 'grpc', method: 'Extract', outcome: 'ok' }), 1);
    assert.equal(v('facerest_requests_total', { protocol: 'rest', method: 'extract', outcome: '200' }), 1);
    assert.equal(v('facerest_requests_total', { protocol: 'connect', method: 'Info', outcome: 'ok' }), 1);
    assert.equal(v('facerest_request_duration_seconds_count', { protocol: 'grpc', method: 'Extract' }), 1);
    assert.equal(v('facerest_images_total', { outcome: 'ok' }), 2);
    assert.equal(v('facerest_images_total', { outcome: 'error' }), 1);
    assert.equal(v('facerest_faces_total'), 4 + 3);
    assert.equal(v('facerest_queue_depth'), 0);
    assert.ok(v('facerest_worker_busy_seconds_total') > 0);
    // Two images reached the models: the detector ran twice; the recognizer once per image, and
    // once more for each, since both group photos have faces under 112 px that are aligned again
    // from pixels closer to the original (server/pipeline/extract.ts, ALIGN_MIN_FACE).
    assert.equal(v('facerest_model_seconds_count', { role: 'detector' }), 2);
    assert.equal(v('facerest_model_seconds_count', { role: 'recognizer' }), 4);
    assert.ok(v('facerest_model_seconds_sum', { role: 'recognizer' }) > 0);
    assert.ok(v('facerest_process_resident_memory_bytes') > 0);
  });

  it('every response carries a request id (the caller\'s own if it sends one), and so does its log line', async () => {
    const rest = await fetch(`${fx.server.baseUrl}/extract`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ images: { data: [] } }),
    });
    assert.match(rest.headers.get('x-request-id') ?? '', UUID);
    const rpc = await fetch(`${fx.server.baseUrl}/facerest.v1.FaceService/Info`, {
      method: 'POST', headers: { 'content-type': 'application/json', 'x-request-id': 'trace-42' }, body: '{}',
    });
    assert.equal(rpc.status, 200);
    assert.equal(rpc.headers.get('x-request-id'), 'trace-42');
    // A header that is not a sane token is replaced, not echoed into logs.
    const odd = await fetch(`${fx.server.baseUrl}/healthz`, { headers: { 'x-request-id': 'a b<script>' } });
    assert.match(odd.headers.get('x-request-id') ?? '', UUID);

    await new Promise((r) => setTimeout(r, 100));
    const line = fx.server.logs().find((l) => l.reqId === 'trace-42');
    assert.ok(line, 'a log line for the call');
    assert.equal(line.method, 'Info');
    assert.equal(line.protocol, 'connect');
    assert.equal(line.outcome, 'ok');
    assert.equal(typeof line.ms, 'number');
    assert.equal(line.level, 30);
    const restLine = fx.server.logs().find((l) => l.reqId === rest.headers.get('x-request-id'));
    assert.equal(restLine?.protocol, 'rest');
  });
});
