/** ExtractStream: 200 images through one bidirectional stream, every id answered once. */
import { createClient } from '@connectrpc/connect';
import { createConnectTransport } from '@connectrpc/connect-node';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { FaceGrpcClient } from '../clients/node/grpc-client.js';
import { FaceService, type ImageResult } from '../gen/facerest/v1/face_service_pb.js';
import { readShared, sharedPath } from './helpers/data.js';
import { startServer, type TestServer } from './helpers/server.js';

const PHOTOS = readdirSync(sharedPath('faces', 'deepface')).filter((f) => f.endsWith('.jpg')).slice(0, 20)
  .map((f) => readShared('faces', 'deepface', f));
const COUNT = 200;

function assertSameResult(a: ImageResult, b: ImageResult, label: string) {
  assert.equal(a.error, b.error, label);
  assert.equal(a.faces.length, b.faces.length, `${label}: face count`);
  a.faces.forEach((f, i) => {
    assert.ok(Math.abs(f.prob - b.faces[i].prob) < 1e-5, `${label}: prob`);
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
    assert.equal(byId.good.error, '');
    assert.ok(byId.good.faces.length > 0);
    assert.match(byId.bad.error, /^unsupported format/);
    assert.match(byId.empty.error, /empty image/);
  });
});
