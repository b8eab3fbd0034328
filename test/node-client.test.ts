/**
 * createFaceClient against the real server on all three protocols: extract, info and
 * extractAll (ExtractStream), with backpressure on the source and errors per image.
 */
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { createFaceClient, type FaceClient, type Protocol, type StreamImage } from '../clients/node/face-client.js';
import { ModelRole } from '../gen/facerest/v1/face_service_pb.js';
import { BBT, readFace } from './helpers/data.js';
import { startServer, type TestServer } from './helpers/server.js';

const BBT_FACES = [4, 3, 5, 6, 5];

describe('Node client (createFaceClient)', () => {
  let server: TestServer;
  before(async () => { server = await startServer(); });
  after(async () => { await server.stop(); });

  for (const protocol of ['grpc', 'connect', 'grpc-web'] as Protocol[]) {
    describe(protocol, () => {
      let client: FaceClient;
      before(() => { client = createFaceClient({ baseUrl: server.baseUrl, protocol }); });
      after(() => client.close());

      it('extract: one result per image, in order, options applied, a broken image fails alone', async () => {
        const results = await client.extract([readFace(BBT[0]), Buffer.from('not an image'), readFace(BBT[1])], { keepLargestFaces: 2 });
        assert.equal(results.length, 3);
        assert.equal(results[0].faces.length, 2);
        assert.match(results[1].error?.message ?? '', /image/i);
        assert.equal(results[2].faces.length, 2);
        assert.equal(results[0].faces[0].embedding.length, 512);
      });

      it('info: the loaded models, over the protocol asked for (as the server logged it)', async () => {
        const info = await client.info();
        assert.ok(info.models.some((m) => m.role === ModelRole.RECOGNIZER && m.embeddingSize === 512));
        await new Promise((r) => setTimeout(r, 50));
        const calls = server.logs().filter((l) => l.method === 'Info').map((l) => l.protocol);
        assert.equal(calls[calls.length - 1], protocol);
      });

      it('extractAll: streams an async iterable and yields every result with its id', async () => {
        async function* source(): AsyncGenerator<StreamImage> {
          for (let round = 0; round < 4; round++) {
            for (const [i, file] of BBT.entries()) yield { id: `${round}-${i}`, data: readFace(file) };
          }
        }
        const seen = new Map<string, number>();
        for await (const { id, result } of client.extractAll(source(), { maxSize: 640 })) seen.set(id, result.faces.length);
        assert.equal(seen.size, 20);
        for (const [id, faces] of seen) assert.equal(faces, BBT_FACES[Number(id.split('-')[1])], id);
      });
    });
  }

  it('extractAll reads the source no further ahead than maxInFlight, and numbers plain images', async () => {
    const client = createFaceClient({ baseUrl: server.baseUrl });
    try {
      let pulled = 0;
      let answered = 0;
      let maxAhead = 0;
      function* source(): Generator<Uint8Array> {
        for (let i = 0; i < 30; i++) {
          pulled++;
          maxAhead = Math.max(maxAhead, pulled - answered);
          yield readFace(BBT[i % 5]);
        }
      }
      const ids: string[] = [];
      for await (const { id } of client.extractAll(source(), { maxInFlight: 3 })) {
        answered++;
        ids.push(id);
      }
      assert.deepEqual(ids.map(Number).sort((a, b) => a - b), Array.from({ length: 30 }, (_, i) => i));
      // At most 3 sent and unanswered, plus the one the generator is handing over.
      assert.ok(maxAhead <= 4, `source read ${maxAhead} ahead of the answers`);
    } finally {
      client.close();
    }
  });

  it('stopping early ends the stream without reading the rest of the source', async () => {
    const client = createFaceClient({ baseUrl: server.baseUrl, protocol: 'connect' });
    try {
      let pulled = 0;
      function* endless(): Generator<Uint8Array> {
        for (;;) {
          pulled++;
          yield readFace(BBT[0]);
        }
      }
      let got = 0;
      for await (const { result } of client.extractAll(endless(), { maxInFlight: 4 })) {
        assert.equal(result.faces.length, 4);
        if (++got === 3) break;
      }
      const after = pulled;
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(pulled, after, 'the source was read after the consumer stopped');
      assert.ok(pulled <= 3 + 4 + 1, `pulled ${pulled}`);
      // The client still works after the early stop.
      assert.equal((await client.extract([readFace(BBT[1])]))[0].faces.length, 3);
    } finally {
      client.close();
    }
  });

  // connect-node's transport is binary unless told otherwise (connect-web's is JSON, which the
  // page now turns off): the README tells Connect users to send photos this way.
  it('Connect sends its binary format, not JSON with each photo in base64', async () => {
    const seen: string[] = [];
    // A listener that only records what arrives: the wire format is the client's alone.
    const recorder = http2.createServer((req, res) => {
      seen.push(req.headers['content-type'] ?? '');
      req.resume();
      res.writeHead(503).end();
    });
    await new Promise<void>((resolve) => recorder.listen(0, '127.0.0.1', resolve));
    const client = createFaceClient({ baseUrl: `http://127.0.0.1:${(recorder.address() as AddressInfo).port}`, protocol: 'connect' });
    try {
      await assert.rejects(client.extract([readFace(BBT[0])]));
      assert.deepEqual(seen, ['application/proto']);
    } finally {
      client.close();
      await new Promise((resolve) => recorder.close(resolve));
    }
  });

  it('names the server when it cannot be reached', async () => {
    const client = createFaceClient({ baseUrl: 'http://127.0.0.1:1', protocol: 'connect' });
    try {
      await assert.rejects(client.info(), /ECONNREFUSED|unavailable/i);
    } finally {
      client.close();
    }
  });
});
