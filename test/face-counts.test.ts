/** Face counts on real photos, agreed on by several detectors (../shared/faces/README.md). */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { FaceGrpcClient } from '../clients/node/grpc-client.js';
import { BBT, readFace, sharedPath } from './helpers/data.js';
import { startServer, type TestServer } from './helpers/server.js';

const EXPECTED: [string, number][] = [
  [BBT[0], 4], [BBT[1], 3], [BBT[2], 5], [BBT[3], 6], [BBT[4], 5],
  ['face-api.js/test/images/faces.jpg', 6],
  ['face-api.js/test/images/white.png', 0],
  ['detection/insightface-rest/api_sample.jpg', 0],
];

const detectors: [string, Record<string, string>][] = [
  ['default pack (UltraFace RFB-320)', {}],
  ['SCRFD-500M', { FACEREST_DETECTOR: sharedPath('models', 'scrfd', 'det_500m.onnx') }],
];

for (const [name, env] of detectors) {
  describe(`face counts: ${name}`, () => {
    let server: TestServer;
    let client: FaceGrpcClient;
    before(async () => {
      server = await startServer(env);
      client = new FaceGrpcClient(server.address);
    });
    after(async () => {
      client.close();
      await server.stop();
    });

    it('finds the agreed number of faces in each photo', async () => {
      const res = await client.extract({ images: EXPECTED.map(([f]) => ({ data: readFace(f) })) });
      const counts = res.results.map((r) => r.faces.length);
      assert.deepEqual(counts, EXPECTED.map(([, n]) => n),
        `counts for ${EXPECTED.map(([f]) => f.split('/').pop()).join(', ')}`);
      for (const r of res.results) {
        for (const f of r.faces) assert.ok(f.score >= 0 && f.score <= 1, `score ${f.score}`);
        // Ordered by score, highest first.
        r.faces.forEach((f, i) => {
          if (i > 0) assert.ok(r.faces[i - 1].score >= f.score);
        });
      }
    });
  });
}
