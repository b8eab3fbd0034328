/**
 * The default pack's SSR-Net age and gender models on real labelled photos: the 39 identity
 * photos of face-api.js/examples/images in which the default detector finds a face (the cast of
 * a TV series: 3 women, 5 men, adults). The bars are set from what was measured (gender right
 * for 32 of 39, ages 29..59), less a margin; a coin would get about 20 right.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { FaceGrpcClient } from '../clients/node/grpc-client.js';
import { Gender, ModelRole } from '../gen/facerest/v1/face_service_pb.js';
import { readCsv, readFace } from './helpers/data.js';
import { base64, postExtract } from './helpers/legacy.js';
import { startServer, type TestServer } from './helpers/server.js';

const WOMEN = new Set(['amy', 'bernadette', 'penny']);

describe('age and gender with the default pack (SSR-Net)', () => {
  let server: TestServer;
  let client: FaceGrpcClient;
  before(async () => {
    server = await startServer();
    client = new FaceGrpcClient(server.address);
  });
  after(async () => {
    client.close();
    await server.stop();
  });

  it('Info lists one age and one gender model', async () => {
    const info = await client.info();
    const families = info.models.filter((m) => m.role === ModelRole.ATTRIBUTES).map((m) => m.family).sort();
    assert.deepEqual(families, ['ssrnet-age', 'ssrnet-gender']);
  });

  it('tells women from men on labelled photos, with adult ages', async (t) => {
    const rows = readCsv('faces', 'face-api.js', 'identities.csv');
    const images = rows.map((r) => ({ data: readFace(`face-api.js/${r.file}`) }));
    const res = await client.extract({ images, options: { maxSize: 0, returnAgeGender: true, skipEmbedding: true, keepLargestFaces: 1 } });
    let right = 0;
    let judged = 0;
    const ages: number[] = [];
    res.results.forEach((r, i) => {
      const face = r.faces[0];
      if (!face) return;
      judged++;
      assert.notEqual(face.gender, Gender.UNSPECIFIED);
      if ((face.gender === Gender.FEMALE) === WOMEN.has(rows[i].identity)) right++;
      ages.push(face.age!);
    });
    const mean = ages.reduce((a, b) => a + b, 0) / ages.length;
    t.diagnostic(`gender right for ${right} of ${judged}; ages ${Math.min(...ages).toFixed(0)}..${Math.max(...ages).toFixed(0)}, mean ${mean.toFixed(1)}`);
    assert.ok(judged >= 38, `faces found in ${judged} of ${rows.length}`);
    assert.ok(right >= 28, `gender right for ${right} of ${judged}`);
    for (const age of ages) assert.ok(age > 15 && age < 70, `age ${age}`);
  });

  it('reports the same on /extract as age in years and gender 0/1', async () => {
    const photo = readFace('face-api.js/examples/images/raj/raj4.png');
    const { json } = await postExtract(server.baseUrl, { images: { data: [base64(photo)] }, extract_ga: true });
    const rpc = await client.extract({ images: [{ data: photo }], options: { returnAgeGender: true } });
    assert.equal(json[0].length, 1);
    assert.equal(json[0][0].gender, rpc.results[0].faces[0].gender === Gender.MALE ? 1 : 0);
    assert.equal(json[0][0].age, Math.round(rpc.results[0].faces[0].age!));
  });
});
