/**
 * POST /extract says what the RPC says, in InsightFace-REST's words: with only one attribute
 * model loaded it reports that attribute alone (it used to invent "age": 0 or "gender": 0), and
 * it takes the request shapes of later InsightFace-REST clients: `max_size` as a list
 * ([width, height]; its larger value caps the larger side) and `api_ver` "1". Otherwise the
 * answer is byte for byte what it was.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { FaceGrpcClient } from '../clients/node/grpc-client.js';
import { Gender } from '../gen/facerest/v1/face_service_pb.js';
import { PROJECT_ROOT } from '../models/packs/paths.js';
import { BBT, readFace } from './helpers/data.js';
import { base64, postExtract } from './helpers/legacy.js';
import { startServer, type TestServer } from './helpers/server.js';

const weights = (file: string) => join(PROJECT_ROOT, 'models', 'weights', 'default', file);
const bbt2 = readFace(BBT[1]); // 3 faces
const bbt1 = readFace(BBT[0]); // 1366x768, 4 faces

async function rawExtract(baseUrl: string, body: unknown): Promise<{ status: number; text: string }> {
  const res = await fetch(`${baseUrl}/extract`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, text: await res.text() };
}

for (const [only, variable, present, absent] of [
  ['age', 'FACEREST_AGE', 'age', 'gender'], ['gender', 'FACEREST_GENDER', 'gender', 'age'],
] as const) {
  describe(`extract_ga with only the ${only} model loaded`, () => {
    let server: TestServer;
    let client: FaceGrpcClient;
    before(async () => {
      server = await startServer({ [variable]: weights(`fr_${only}.onnx`) });
      client = new FaceGrpcClient(server.address);
    });
    after(async () => {
      client.close();
      await server.stop();
    });

    it(`/extract reports "${present}" and no "${absent}", as the RPC leaves it unset`, async () => {
      const rpc = await client.extract({ images: [{ data: bbt2 }], options: { returnAgeGender: true } });
      const { status, json } = await postExtract(server.baseUrl, { images: { data: [base64(bbt2)] }, extract_ga: true });
      assert.equal(status, 200);
      assert.equal(json[0].length, 3);
      json[0].forEach((face: Record<string, unknown>, i: number) => {
        const f = rpc.results[0].faces[i];
        assert.deepEqual(Object.keys(face), ['vec', 'det', 'prob', 'bbox', present]);
        if (only === 'age') {
          assert.equal(f.gender, Gender.UNSPECIFIED);
          assert.equal(face.age, Math.round(f.age!));
          assert.ok((face.age as number) > 10, `age ${face.age}`);
        } else {
          assert.equal(f.age, undefined);
          assert.equal(face.gender, f.gender === Gender.MALE ? 1 : 0);
        }
      });
    });
  });
}

describe('later InsightFace-REST request shapes', () => {
  let server: TestServer;
  before(async () => { server = await startServer(); });
  after(async () => { await server.stop(); });

  it('max_size as a list: its larger value caps the larger side', async () => {
    const images = { data: [base64(bbt1)] };
    const capped = await rawExtract(server.baseUrl, { images, max_size: 320 });
    for (const list of [[320, 320], [320, 200], [200, 320]]) {
      const got = await rawExtract(server.baseUrl, { images, max_size: list });
      assert.equal(got.status, 200, got.text);
      assert.equal(got.text, capped.text, `max_size ${JSON.stringify(list)}`);
    }
    const default640 = await rawExtract(server.baseUrl, { images });
    assert.equal((await rawExtract(server.baseUrl, { images, max_size: [640, 640] })).text, default640.text);
    assert.notEqual(capped.text, default640.text, 'the cap is applied (320 and 640 differ)');
    assert.equal((await rawExtract(server.baseUrl, { images, max_size: [0, 0] })).text,
      (await rawExtract(server.baseUrl, { images, max_size: 0 })).text);
  });

  it('a bad max_size list is refused with 400 naming it', async () => {
    for (const bad of [[], [640, 480, 320], [-1, 640], ['640', 640], [1.5, 2]]) {
      const { status, json } = await postExtract(server.baseUrl, { images: { data: [] }, max_size: bad });
      assert.equal(status, 400, JSON.stringify(bad));
      assert.match(json.error, /"max_size" must be/);
    }
  });

  it('api_ver "1" is accepted and changes nothing, byte for byte; other versions are refused', async () => {
    const images = { data: [base64(bbt2)] };
    const plain = await rawExtract(server.baseUrl, { images });
    assert.equal(plain.status, 200);
    for (const api_ver of ['1', 1]) {
      const got = await rawExtract(server.baseUrl, { images, api_ver });
      assert.equal(got.text, plain.text, `api_ver ${JSON.stringify(api_ver)}`);
    }
    const all = await rawExtract(server.baseUrl, { images, api_ver: '1', max_size: [640, 480], threshold: 0.7 });
    assert.equal(all.status, 200, all.text);
    const v2 = await postExtract(server.baseUrl, { images, api_ver: '2' });
    assert.equal(v2.status, 400);
    assert.match(v2.json.error, /"api_ver" must be "1"/);
  });

  it('the answer keeps its exact shape: keys in order, integer boxes, no extra fields', async () => {
    const { text } = await rawExtract(server.baseUrl, { images: { data: [base64(bbt2)] } });
    const json = JSON.parse(text);
    for (const face of json[0]) assert.deepEqual(Object.keys(face), ['vec', 'det', 'prob', 'bbox']);
    assert.match(text, /^\[\[\{"vec":\[-?\d/);
    assert.match(text, /"bbox":\[\d+,\d+,\d+,\d+\]\}/);
  });
});
