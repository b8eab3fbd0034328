/** The InsightFace-REST per-request options, on the RPCs and on POST /extract. */
import { ConnectError, Code, createClient } from '@connectrpc/connect';
import { createConnectTransport } from '@connectrpc/connect-node';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import { FaceGrpcClient } from '../clients/node/grpc-client.js';
import { FaceService, type Face } from '../gen/facerest/v1/face_service_pb.js';
import { BBT, readFace, readShared } from './helpers/data.js';
import { base64, postExtract } from './helpers/legacy.js';
import { cosine } from './helpers/roc.js';
import { startServer, type TestServer } from './helpers/server.js';

const crowd = readFace(BBT[3]); // 6 faces of different sizes
const area = (f: Face) => (f.box!.x2 - f.box!.x1) * (f.box!.y2 - f.box!.y1);
const side = (f: Face) => Math.max(f.box!.x2 - f.box!.x1, f.box!.y2 - f.box!.y1);

describe('request options', () => {
  let server: TestServer;
  let client: FaceGrpcClient;
  let all: Face[];
  before(async () => {
    server = await startServer();
    client = new FaceGrpcClient(server.address);
    all = (await client.extract({ images: [{ data: crowd }] })).results[0].faces;
    assert.equal(all.length, 6);
  });
  after(async () => {
    client.close();
    await server.stop();
  });

  it('limit_faces keeps the N largest faces', async () => {
    const faces = (await client.extract({ images: [{ data: crowd }], options: { keepLargestFaces: 2 } })).results[0].faces;
    assert.equal(faces.length, 2);
    const largest = [...all].sort((a, b) => area(b) - area(a)).slice(0, 2).map(area).sort();
    assert.deepEqual(faces.map(area).sort(), largest);
  });

  it('min_face_size drops faces smaller than that many original pixels', async () => {
    const sides = all.map(side).sort((a, b) => a - b);
    const cut = Math.round((sides[2] + sides[3]) / 2);
    const faces = (await client.extract({ images: [{ data: crowd }], options: { minFaceSizePx: cut } })).results[0].faces;
    assert.equal(faces.length, sides.filter((s) => s >= cut).length);
    assert.ok(faces.length > 0 && faces.length < all.length);
    for (const f of faces) assert.ok(side(f) >= cut);
  });

  it('threshold raises or lowers the detection score cut', async () => {
    const probs = all.map((f) => f.score).sort((a, b) => a - b);
    const threshold = (probs[0] + probs[probs.length - 1]) / 2;
    const strict = (await client.extract({ images: [{ data: crowd }], options: { detectionThreshold: threshold } })).results[0].faces;
    assert.equal(strict.length, probs.filter((p) => p >= threshold).length);
    assert.ok(strict.length < all.length, `threshold ${threshold} kept all ${all.length} faces`);
    for (const f of strict) assert.ok(f.score >= threshold);
    const loose = (await client.extract({ images: [{ data: crowd }], options: { detectionThreshold: 0.3 } })).results[0].faces;
    assert.ok(loose.length >= all.length);
  });

  it('extract_embedding false gives the same faces without embeddings', async () => {
    const faces = (await client.extract({ images: [{ data: crowd }], options: { skipEmbedding: true } })).results[0].faces;
    assert.equal(faces.length, all.length);
    faces.forEach((f, i) => {
      assert.equal(f.embedding.length, 0);
      assert.ok(Math.abs(f.box!.x1 - all[i].box!.x1) < 1e-3);
      assert.equal(f.landmarks.length, 5);
    });
  });

  it('return_face_data gives each aligned face as a 112x112 JPEG', async () => {
    const faces = (await client.extract({ images: [{ data: readFace(BBT[1]) }], options: { returnAlignedFace: true } })).results[0].faces;
    assert.equal(faces.length, 3);
    for (const f of faces) {
      const meta = await sharp(f.alignedFace).metadata();
      assert.deepEqual([meta.format, meta.width, meta.height], ['jpeg', 112, 112]);
    }
    // Not asked for: not sent.
    assert.equal(all[0].alignedFace.length, 0);
  });

  it('embed_only embeds an aligned crop: TH.png matches the face in TH1.jpg', async () => {
    const aligned = readShared('faces', 'detection', 'insightface-rest', 'TH.png');
    const [th] = (await client.extract({ images: [{ data: aligned }], options: { alignedInput: true } })).results;
    assert.equal(th.error, undefined);
    assert.equal(th.faces.length, 1);
    assert.deepEqual([th.faces[0].box!.x2, th.faces[0].box!.y2], [112, 112]);
    const others = ['detection/insightface-rest/TH1.jpg', 'detection/insightface-rest/Stallone.jpg', BBT[0], BBT[1]];
    const res = await client.extract({ images: others.map((f) => ({ data: readFace(f) })), options: { keepLargestFaces: 8 } });
    const same = cosine(th.faces[0].embedding, res.results[0].faces[0].embedding);
    const different = res.results.slice(1).flatMap((r) => r.faces).map((f) => cosine(th.faces[0].embedding, f.embedding));
    console.log(`# embed_only TH.png vs TH1.jpg: ${same.toFixed(3)}; vs ${different.length} other people: max ${Math.max(...different).toFixed(3)}`);
    // The default pack's same/different threshold on pairs.csv is about 0.41 (accuracy test).
    assert.ok(same > 0.5, `same-person similarity ${same}`);
    assert.ok(same > Math.max(...different) + 0.2, 'well above every different person');
  });

  it('an out-of-range option is INVALID_ARGUMENT over gRPC and Connect', async () => {
    await assert.rejects(client.extract({ images: [{ data: crowd }], options: { detectionThreshold: 1.5 } }),
      (err: { code: number; details: string }) => err.code === 3 && /threshold/.test(err.details));
    const connect = createClient(FaceService, createConnectTransport({ baseUrl: server.baseUrl, httpVersion: '1.1' }));
    await assert.rejects(connect.extract({ images: [{ data: crowd }], options: { detectionThreshold: -0.1 } }),
      (err: ConnectError) => err.code === Code.InvalidArgument);
  });

  describe('on POST /extract', () => {
    it('adds landmarks and facedata only when asked, vec null without embeddings', async () => {
      const { status, json } = await postExtract(server.baseUrl, {
        images: { data: [base64(readFace(BBT[1]))] },
        return_landmarks: true, return_face_data: true, extract_embedding: false, limit_faces: 2,
      });
      assert.equal(status, 200);
      assert.equal(json[0].length, 2);
      for (const face of json[0]) {
        assert.deepEqual(Object.keys(face).sort(), ['bbox', 'det', 'facedata', 'landmarks', 'prob', 'vec']);
        assert.equal(face.vec, null);
        assert.equal(face.landmarks.length, 5);
        const meta = await sharp(Buffer.from(face.facedata, 'base64')).metadata();
        assert.deepEqual([meta.width, meta.height], [112, 112]);
      }
    });

    it('embed_only and threshold work as on the RPC', async () => {
      const aligned = readShared('faces', 'detection', 'insightface-rest', 'TH.png');
      const { json } = await postExtract(server.baseUrl, { images: { data: [base64(aligned)] }, embed_only: true });
      assert.equal(json[0].length, 1);
      assert.equal(json[0][0].vec.length, 512);
      const none = await postExtract(server.baseUrl, { images: { data: [base64(crowd)] }, threshold: 1 });
      assert.ok(none.json[0].length < 6);
    });

    const invalid: [string, Record<string, unknown>, RegExp][] = [
      ['threshold above 1', { threshold: 1.2 }, /"threshold" must be a number from 0 to 1/],
      ['limit_faces negative', { limit_faces: -2 }, /"limit_faces"/],
      ['min_face_size a string', { min_face_size: '20' }, /"min_face_size"/],
      ['return_face_data not a boolean', { return_face_data: 'yes' }, /"return_face_data" must be true or false/],
      ['an unknown option', { detect_unicorns: true }, /unknown option "detect_unicorns"/],
    ];
    for (const [label, extra, message] of invalid) {
      it(`${label} gets 400`, async () => {
        const { status, json } = await postExtract(server.baseUrl, { images: { data: [] }, ...extra });
        assert.equal(status, 400);
        assert.match(json.error, message);
      });
    }
  });
});
