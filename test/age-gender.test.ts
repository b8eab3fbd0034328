/**
 * Age and gender with InsightFace's genderage.onnx layout ([B,3,96,96] -> [B,3]: female and male
 * logits, age/100). No such model is available here, so the test writes a tiny one of that
 * layout whose answer is fixed by its weights, and checks it end to end: family recognised from
 * the graph, loaded by FACEREST_GENDERAGE, run per face, reported on the RPCs and on /extract.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { FaceGrpcClient } from '../clients/node/grpc-client.js';
import { Gender, ModelRole } from '../gen/facerest/v1/face_service_pb.js';
import { loadAttributeModel } from '../models/inference/zoo.js';
import { BBT, readFace, sharedPath } from './helpers/data.js';
import { base64, postExtract } from './helpers/legacy.js';
import { buildOnnx } from '../models/inference/onnx/build.js';
import { startServer, type TestServer } from './helpers/server.js';

/** A genderage-layout model that answers `logits` whatever the face: x * 0 + logits. */
function fixedAnswer(logits: [number, number, number]): Uint8Array {
  return buildOnnx({
    input: { name: 'data', shape: ['N', 3, 96, 96] },
    output: { name: 'fc1', shape: ['N', 3] },
    constants: { zero: { dims: [1], values: [0] }, logits: { dims: [3], values: logits } },
    nodes: [
      { op: 'ReduceMean', inputs: ['data'], outputs: ['m'], ints: { axes: [2, 3] }, int: { keepdims: 0 } },
      { op: 'Mul', inputs: ['m', 'zero'], outputs: ['z'] },
      { op: 'Add', inputs: ['z', 'logits'], outputs: ['fc1'] },
    ],
  });
}

describe('age and gender (genderage layout)', () => {
  let dir: string;
  let server: TestServer;
  let client: FaceGrpcClient;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'facerest-ga-'));
    await writeFile(join(dir, 'male31.onnx'), fixedAnswer([0.2, 0.9, 0.31]));
    await writeFile(join(dir, 'female50.onnx'), fixedAnswer([0.9, 0.2, 0.5]));
    server = await startServer({ FACEREST_GENDERAGE: join(dir, 'male31.onnx') });
    client = new FaceGrpcClient(server.address);
  });
  after(async () => {
    client.close();
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('is recognised from its inputs and outputs and decodes logits and age', async () => {
    const model = await loadAttributeModel({ path: join(dir, 'female50.onnx'), pack: 'custom' });
    assert.equal(model.description.family, 'genderage');
    const face = { data: new Uint8Array(200 * 200 * 3).fill(90), width: 200, height: 200 };
    const attrs = await model.predict(face, [50, 40, 150, 170]);
    assert.equal(attrs.gender, 'female');
    assert.ok(Math.abs(attrs.age! - 50) < 1e-4);
  });

  it('Info lists the attribute model', async () => {
    const info = await client.info();
    const attrs = info.models.find((m) => m.role === ModelRole.ATTRIBUTES);
    assert.equal(attrs?.family, 'genderage');
  });

  it('extract_ga adds age and gender to every face over gRPC, and only when asked', async () => {
    const res = await client.extract({ images: [{ data: readFace(BBT[1]) }], options: { returnAgeGender: true } });
    assert.equal(res.results[0].faces.length, 3);
    for (const f of res.results[0].faces) {
      assert.equal(f.gender, Gender.MALE);
      assert.ok(Math.abs(f.age! - 31) < 1e-3);
    }
    const plain = await client.extract({ images: [{ data: readFace(BBT[1]) }] });
    assert.equal(plain.results[0].faces[0].age, undefined);
    assert.equal(plain.results[0].faces[0].gender, Gender.UNSPECIFIED);
  });

  it('extract_ga on /extract gives InsightFace-REST fields: age in years, gender 1 = male', async () => {
    const { status, json } = await postExtract(server.baseUrl, { images: { data: [base64(readFace(BBT[1]))] }, extract_ga: true });
    assert.equal(status, 200);
    // bbt2 has 3 faces: an empty list must not pass the loop below vacuously.
    assert.equal(json[0]?.length, 3, `faces: ${JSON.stringify(json).slice(0, 200)}`);
    for (const face of json[0]) {
      assert.equal(face.age, 31);
      assert.equal(face.gender, 1);
    }
  });
});

describe('extract_ga without an age/gender model', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer({
      FACEREST_PACK: 'custom',
      FACEREST_DETECTOR: sharedPath('models', 'scrfd', 'det_500m.onnx'),
      FACEREST_RECOGNIZER: sharedPath('models', 'recognition', 'mobilefacenet_128d.onnx'),
    });
  });
  after(async () => { await server.stop(); });

  it('is refused with a message that says why', async () => {
    const client = new FaceGrpcClient(server.address);
    try {
      await assert.rejects(client.extract({ images: [{ data: readFace(BBT[1]) }], options: { returnAgeGender: true } }),
        (err: { code: number; details: string }) => err.code === 3 && /no age\/gender model/.test(err.details));
    } finally {
      client.close();
    }
    const { status, json } = await postExtract(server.baseUrl, { images: { data: [] }, extract_ga: true });
    assert.equal(status, 400);
    assert.match(json.error, /no age\/gender model/);
  });
});
