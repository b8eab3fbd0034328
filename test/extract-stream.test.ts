/** ExtractStream: 200 images through one bidirectional stream, every id answered once. */
import { createClient } from '@connectrpc/connect';
import { createConnectTransport } from '@connectrpc/connect-node';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { FaceGrpcClient } from '../clients/node/grpc-client.js';
import { FaceService, ImageErrorCode, type ImageResult } from '../gen/facerest/v1/face_service_pb.js';
import { readShared, sharedPath } from './helpers/data.js';
import { startServer, type TestServer } from './helpers/server.js';

const PHOTOS = readdirSync(sharedPath('faces', 'deepface')).filter((f) => f.endsWith('.jpg')).slice(0, 20)
  .map((f) => readShared('faces', 'deepface', f));
const COUNT = 200;

function assertSameResult(a: ImageResult, b: ImageResult, label: string) {
  assert.deepEqual(a.error, b.error, label);
  assert.equal(a.faces.length, b.faces.length, `${label}: face count`);
  a.faces.forEach((f, i) => {
    assert.ok(Math.abs(f.score - b.faces[i].score) < 1e-5, `${label}: score`);
    f.embedding.forEach((v, k) => assert.ok(Math.abs(v - b.faces[i].embedding[k]) < 1e-5, `${label}: embedding`));
  });
}

describe('ExtractStream', () => {
  let server: TestServer;
  let client: FaceGrpcClient;
  let unary: ImageResult[];
  before(async () => {
    server = await startServer();
    client = new FaceGrpcClient(server.address);
    unary = (await client.extract({ images: PHOTOS.map((data) => ({ data })) })).results;
  });
  after(async () => {
    client.close();
    await server.stop();
  });

  it(`answers each of ${COUNT} images once, equal to unary Extract (grpc-js)`, async () => {
    function* requests() {
      for (let i = 0; i < COUNT; i++) yield { id: `img-${i}`, image: { data: PHOTOS[i % PHOTOS.length] } };
    }
    const seen = new Map<string, ImageResult>();
    for await (const res of client.extractStream(requests())) {
      assert.ok(!seen.has(res.id), `id ${res.id} answered twice`);
      seen.set(res.id, res.result!);
    }
    assert.equal(seen.size, COUNT);
    for (let i = 0; i < COUNT; i++) {
      const r = seen.get(`img-${i}`);
      assert.ok(r, `img-${i} never answered`);
      assertSameResult(r, unary[i % PHOTOS.length], `img-${i}`);
    }
  });

  it('serves a client that sends the next image only after the previous answer (no deadlock)', async () => {
    const connect = createClient(FaceService, createConnectTransport({ baseUrl: server.baseUrl, httpVersion: '2' }));
    let answered = 0;
    let release: () => void = () => undefined;
    async function* lockstep() {
      for (let i = 0; i < 5; i++) {
        const next = new Promise<void>((r) => { release = r; });
        yield { id: String(i), image: { data: PHOTOS[i] } };
        await next;
      }
    }
    for await (const res of connect.extractStream(lockstep())) {
      assertSameResult(res.result!, unary[Number(res.id)], `lockstep ${res.id}`);
      answered++;
      release();
    }
    assert.equal(answered, 5);
  });

  it('reports a bad image in its own response and carries on', async () => {
    const out = [];
    for await (const res of client.extractStream([
      { id: 'good', image: { data: PHOTOS[0] } },
      { id: 'bad', image: { data: Buffer.from('not an image') } },
      { id: 'empty' },
    ])) out.push(res);
    const byId = Object.fromEntries(out.map((r) => [r.id, r.result!]));
    assert.equal(byId.good.error, undefined);
    assert.ok(byId.good.faces.length > 0);
    assert.equal(byId.bad.error?.code, ImageErrorCode.UNSUPPORTED_FORMAT);
    assert.match(byId.bad.error?.message ?? '', /^unsupported format/);
    // A message without an image is the message's fault, not a corrupt file's.
    assert.equal(byId.empty.error?.code, ImageErrorCode.INVALID_ARGUMENT);
    assert.match(byId.empty.error?.message ?? '', /no image/);
  });

  it('a message with invalid options gets its own error, matched by its id; the stream goes on', async () => {
    const out = [];
    for await (const res of client.extractStream([
      { id: 'a', image: { data: PHOTOS[0] } },
      { id: 'bad-threshold', image: { data: PHOTOS[1] }, options: { detectionThreshold: 7 } },
      { id: 'b', image: { data: PHOTOS[1] }, options: { maxSize: 320 } },
    ])) out.push(res);
    const byId = Object.fromEntries(out.map((r) => [r.id, r.result!]));
    assert.deepEqual(Object.keys(byId).sort(), ['a', 'b', 'bad-threshold']);
    assert.equal(byId['bad-threshold'].error?.code, ImageErrorCode.INVALID_ARGUMENT);
    assert.match(byId['bad-threshold'].error?.message ?? '', /"detection_threshold" must be a number from 0 to 1, got 7/);
    assert.equal(byId['bad-threshold'].faces.length, 0);
    for (const id of ['a', 'b']) {
      assert.equal(byId[id].error, undefined, id);
      assert.ok(byId[id].faces.length > 0, id);
    }
  });
});
