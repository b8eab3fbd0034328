/**
 * The project's own Node client under concurrency on one HTTP/2 connection: 20 extractAll calls
 * of 5 shared photos (up to 2.4 MB) at once, and a message over the server's size limit, on all
 * three protocols. Before: Node counted the client's queued uploads as session memory and reset
 * the streams whose answers arrived while it was over 10 MB (INTERNAL, NGHTTP2_ENHANCE_YOUR_CALM
 * sent by the client), so 3 to 8 of the 20 calls failed and the 65 MB message never saw its
 * refusal (a limit: INVALID_ARGUMENT, server/errors.ts). The server's 4 MiB windows were not the cause: with Node's default 64 KiB
 * windows all 20 calls failed (measured), since smaller windows keep more bytes queued.
 */
import assert from 'node:assert/strict';
import { Code, ConnectError } from '@connectrpc/connect';
import { after, before, describe, it } from 'node:test';
import { createFaceClient, type Protocol } from '../clients/node/face-client.js';
import { FaceGrpcClient } from '../clients/node/grpc-client.js';
import { readShared } from './helpers/data.js';
import { startServer, type TestServer } from './helpers/server.js';

const PHOTOS = ['img1.jpg', 'img26.jpg', 'img33.jpg', 'img2.jpg', 'img3.jpg'].map((f) => readShared('faces', 'deepface', f));
const CALLS = 20;

describe('Node client under concurrency', () => {
  let server: TestServer;
  let expected: number[];
  before(async () => {
    server = await startServer();
    const grpc = new FaceGrpcClient(server.address);
    expected = (await grpc.extract({ images: PHOTOS.map((data) => ({ data })) })).results.map((r) => r.faces.length);
    grpc.close();
  });
  after(async () => { await server.stop(); });

  it(`${CALLS} concurrent extractAll calls on one connection all succeed, with the right faces`, { timeout: 120_000 }, async () => {
    const client = createFaceClient({ baseUrl: server.baseUrl });
    try {
      const outcomes = await Promise.all(Array.from({ length: CALLS }, async (_, call) => {
        const faces = new Array<number>(PHOTOS.length);
        try {
          for await (const { id, result } of client.extractAll(PHOTOS.map((data, i) => ({ id: String(i), data })))) faces[Number(id)] = result.faces.length;
          return JSON.stringify(faces) === JSON.stringify(expected) ? 'ok' : `call ${call}: faces ${JSON.stringify(faces)}`;
        } catch (err) {
          return `call ${call}: ${(err as Error).message}`;
        }
      }));
      assert.deepEqual(outcomes.filter((o) => o !== 'ok'), []);
    } finally {
      client.close();
    }
  });

  for (const protocol of ['grpc', 'connect', 'grpc-web'] as Protocol[]) {
    it(`${protocol}: a 65 MB message gets its limit error (stream and unary), not a reset`, { timeout: 60_000 }, async () => {
      const client = createFaceClient({ baseUrl: server.baseUrl, protocol });
      const big = Buffer.alloc(65 << 20, 1);
      const exhausted = (err: unknown) => err instanceof ConnectError && err.code === Code.InvalidArgument
        && /exceeds the limit of \d+ bytes/.test(err.message);
      try {
        await assert.rejects(async () => {
          for await (const _ of client.extractAll([big])) assert.fail('no answer expected');
        }, exhausted);
        await assert.rejects(client.extract([big]), exhausted);
        // The connection is still good.
        assert.equal((await client.extract([PHOTOS[3]]))[0].faces.length, expected[3]);
      } finally {
        client.close();
      }
    });
  }
});
