/**
 * Two facerest servers on one PostgreSQL (PGlite + pgvector over the wire) share one gallery:
 * what one enrols the other identifies at once, and what one deletes is gone for both. Both
 * start together and migrate the schema: on PostgreSQL they take turns under an advisory lock;
 * PGlite's one shared session grants that lock to both, so here it is the migration's idempotent
 * statements that let both start (before, one failed: 'relation "collections" already exists').
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { GalleryService } from '../gen/facerest/v1/gallery_service_pb.js';
import { FaceGrpcClient } from '../clients/node/grpc-client.js';
import { readShared } from './helpers/data.js';
import { startPostgres, type TestPostgres } from './helpers/postgres.js';
import { startServer, type TestServer } from './helpers/server.js';

const G = GalleryService.method;
const cast = (who: string, n: number) => readShared('faces', 'face-api.js', 'examples', 'images', who, `${who}${n}.png`);

describe('two facerest replicas on one PostgreSQL', () => {
  let pg: TestPostgres | undefined;
  const servers: TestServer[] = [];
  let a: FaceGrpcClient;
  let b: FaceGrpcClient;
  before(async () => {
    pg = await startPostgres();
    const env = pg.env;
    // allSettled: a server that fails to start must not leave the other running.
    const started = await Promise.allSettled([startServer(env), startServer(env)]);
    for (const s of started) if (s.status === 'fulfilled') servers.push(s.value);
    const failed = started.find((s) => s.status === 'rejected');
    if (failed) throw failed.reason;
    [a, b] = servers.map((s) => new FaceGrpcClient(s.address));
  });
  after(async () => {
    a?.close();
    b?.close();
    await Promise.all(servers.map((s) => s.stop()));
    await pg?.stop();
  });

  it('enrol on one, identify and delete on the other', async () => {
    await a.call(G.createCollection, { name: 'shared' });
    assert.deepEqual((await b.call(G.listCollections, {})).collections.map((c) => c.name), ['shared']);
    const enrolled = await a.call(G.enroll, { collection: 'shared', subject: 'howard', images: [{ data: cast('howard', 1) }] });
    await b.call(G.enroll, { collection: 'shared', subject: 'amy', images: [{ data: cast('amy', 1) }] });

    const seen = await b.call(G.identify, { collection: 'shared', images: [{ data: cast('howard', 2) }, { data: cast('amy', 2) }] });
    assert.deepEqual(seen.results.map((r) => r.faces[0].matches[0]?.subject), ['howard', 'amy']);
    assert.equal(seen.results[0].faces[0].matches[0].faceId, enrolled.faceIds[0]);

    await b.call(G.deleteSubject, { collection: 'shared', subject: 'howard' });
    const after = await a.call(G.identify, { collection: 'shared', images: [{ data: cast('howard', 2) }] });
    assert.deepEqual(after.results[0].faces[0].matches, [], 'deleted on b: unknown on a');
    assert.equal((await a.call(G.getCollection, { name: 'shared' })).collection?.faceCount, 1);
  });
});
