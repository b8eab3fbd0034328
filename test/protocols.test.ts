/**
 * The same images through every protocol on the one port: legacy REST (HTTP/1.1), gRPC with
 * @grpc/grpc-js (HTTP/2), Connect over HTTP/1.1 and HTTP/2, and gRPC-Web. All must agree.
 */
import { createClient, type Client } from '@connectrpc/connect';
import { createConnectTransport, createGrpcWebTransport } from '@connectrpc/connect-node';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { FaceGrpcClient } from '../clients/node/grpc-client.js';
import { FaceService, type ExtractResponse } from '../gen/facerest/v1/face_service_pb.js';
import { BBT, readFace } from './helpers/data.js';
import { base64, postExtract } from './helpers/legacy.js';
import { startServer, type TestServer } from './helpers/server.js';

const FILES = [BBT[0], BBT[3], 'face-api.js/test/images/faces.jpg'];
/** Faces the default pack finds in FILES (README: bbt1 4, bbt4 6, faces.jpg 6). */
const EXPECTED_FACES = [4, 6, 6];
const TOLERANCE = 1e-5;

// Agreement alone would pass if every protocol answered nothing: each answer is also checked
// against the known face counts and must carry embeddings.
function assertSameFaces(a: ExtractResponse, b: ExtractResponse, label: string) {
  assert.deepEqual(a.results.map((r) => r.faces.length), EXPECTED_FACES, `${label}: face counts`);
  assert.equal(a.results.length, b.results.length, label);
  a.results.forEach((ra, i) => {
    const rb = b.results[i];
    assert.equal(ra.faces.length, rb.faces.length, `${label}: image ${i} face count`);
    ra.faces.forEach((fa, j) => {
      const fb = rb.faces[j];
      assert.ok(Math.abs(fa.score - fb.score) < TOLERANCE, `${label}: score`);
      for (const k of ['x1', 'y1', 'x2', 'y2'] as const) assert.ok(Math.abs(fa.box![k] - fb.box![k]) < 1e-3, `${label}: box ${k}`);
      assert.ok(fa.embedding.length > 0, `${label}: image ${i} face ${j} has no embedding`);
      assert.equal(fa.embedding.length, fb.embedding.length, `${label}: embedding size`);
      fa.embedding.forEach((v, k) => assert.ok(Math.abs(v - fb.embedding[k]) < TOLERANCE, `${label}: embedding[${k}]`));
    });
  });
}

describe('every protocol gives the same faces', () => {
  let server: TestServer;
  let grpc: FaceGrpcClient;
  let reference: ExtractResponse;
  const images = FILES.map((f) => ({ data: new Uint8Array(readFace(f)) }));

  before(async () => {
    server = await startServer();
    grpc = new FaceGrpcClient(server.address);
    reference = await grpc.extract({ images, options: { maxSize: 640 } });
  });
  after(async () => {
    grpc.close();
    await server.stop();
  });

  it('gRPC (grpc-js, HTTP/2) finds the faces, with unit embeddings and landmarks inside their boxes', () => {
    assert.deepEqual(reference.results.map((r) => r.faces.length), EXPECTED_FACES);
    for (const r of reference.results) {
      assert.equal(r.error, undefined);
      for (const f of r.faces) {
        const norm = Math.hypot(...f.embedding);
        assert.ok(f.embedding.length > 0 && Math.abs(norm - 1) < 1e-3, `embedding of ${f.embedding.length} values, norm ${norm}`);
        assert.equal(f.landmarks.length, 5);
        for (const p of f.landmarks) {
          const pad = 0.1 * (f.box!.x2 - f.box!.x1);
          assert.ok(p.x > f.box!.x1 - pad && p.x < f.box!.x2 + pad && p.y > f.box!.y1 - pad && p.y < f.box!.y2 + pad,
            `landmark ${p.x},${p.y} outside box`);
        }
        // Eyes above the mouth corners.
        assert.ok(Math.max(f.landmarks[0].y, f.landmarks[1].y) < Math.min(f.landmarks[3].y, f.landmarks[4].y));
      }
    }
  });

  const connectClients: [string, () => Client<typeof FaceService>][] = [
    ['Connect over HTTP/1.1', () => createClient(FaceService, createConnectTransport({ baseUrl: server.baseUrl, httpVersion: '1.1' }))],
    ['Connect over HTTP/2', () => createClient(FaceService, createConnectTransport({ baseUrl: server.baseUrl, httpVersion: '2' }))],
    ['Connect JSON over HTTP/1.1', () => createClient(FaceService, createConnectTransport({ baseUrl: server.baseUrl, httpVersion: '1.1', useBinaryFormat: false }))],
    ['gRPC-Web over HTTP/1.1', () => createClient(FaceService, createGrpcWebTransport({ baseUrl: server.baseUrl, httpVersion: '1.1' }))],
  ];
  for (const [label, make] of connectClients) {
    it(`${label} agrees with gRPC`, async () => {
      const res = await make().extract({ images, options: { maxSize: 640 } });
      assertSameFaces(res, reference, label);
    });
  }

  it('legacy REST agrees with gRPC', async () => {
    const { status, json } = await postExtract(server.baseUrl, { images: { data: FILES.map((f) => base64(readFace(f))) }, max_size: 640 });
    assert.equal(status, 200);
    assert.ok(Array.isArray(json), 'a list per image');
    assert.deepEqual(json.map((faces: unknown[]) => faces.length), EXPECTED_FACES);
    json.forEach((faces: any[], i: number) => {
      const ref = reference.results[i].faces;
      assert.equal(faces.length, ref.length);
      faces.forEach((f, j) => {
        assert.ok(Math.abs(f.prob - ref[j].score) < TOLERANCE);
        assert.deepEqual(f.bbox, [ref[j].box!.x1, ref[j].box!.y1, ref[j].box!.x2, ref[j].box!.y2].map(Math.round));
        assert.ok(f.vec.length > 0 && f.vec.length === ref[j].embedding.length, `image ${i} face ${j}: vec of ${f.vec.length}`);
        f.vec.forEach((v: number, k: number) => assert.ok(Math.abs(v - ref[j].embedding[k]) < TOLERANCE));
      });
    });
  });
});
