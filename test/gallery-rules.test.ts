/**
 * The gallery's rules through the real server: API keys scoped to collections, the limits
 * (named in their errors), a collection bound to another recognizer than the one loaded
 * (FAILED_PRECONDITION naming both) and Reembed, which moves it to the loaded one from the
 * stored aligned faces; `facerest reembed` does the same from the command line.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { GalleryService } from '../gen/facerest/v1/gallery_service_pb.js';
import { FaceGrpcClient } from '../clients/node/grpc-client.js';
import { PROJECT_ROOT } from '../models/packs/paths.js';
import { readShared, sharedPath } from './helpers/data.js';
import { outcome } from './helpers/outcome.js';
import { startServer } from './helpers/server.js';

const G = GalleryService.method;
const cast = (who: string, n: number) => readShared('faces', 'face-api.js', 'examples', 'images', who, `${who}${n}.png`);
const CLI = join(PROJECT_ROOT, 'dist', 'clients', 'cli', 'facerest.js');


describe('gallery: keys scoped to collections, and limits', () => {
  const dir = mkdtempSync(join(tmpdir(), 'facerest-keys-'));
  const ADMIN = 'admin-key-0123456789';
  const SHOP = 'shop-only-key-0123456789';
  let server: Awaited<ReturnType<typeof startServer>>;
  let client: FaceGrpcClient;
  const as = (key: string) => ({ metadata: { authorization: `Bearer ${key}` } });
  before(async () => {
    writeFileSync(join(dir, 'keys'), `# keys\n${ADMIN}\n${SHOP} collections=shop,shop2\n`);
    server = await startServer({
      FACEREST_API_KEYS_FILE: join(dir, 'keys'), FACEREST_MAX_COLLECTIONS: '3', FACEREST_MAX_FACES_PER_COLLECTION: '2',
      FACEREST_MAX_PAGE_SIZE: '5',
    });
    client = new FaceGrpcClient(server.address);
  });
  after(async () => {
    client.close();
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a scoped key uses only its collections, and sees only them; an unscoped key sees all', async () => {
    await client.call(G.createCollection, { name: 'office' }, as(ADMIN));
    await client.call(G.createCollection, { name: 'shop' }, as(SHOP));
    assert.match(await outcome(client.call(G.createCollection, { name: 'other' }, as(SHOP))), /^PERMISSION_DENIED: this API key may not use collection 'other'/);
    assert.match(await outcome(client.call(G.getCollection, { name: 'office' }, as(SHOP))), /^PERMISSION_DENIED/);
    assert.match(await outcome(client.call(G.identify, { collection: 'office', images: [{ data: cast('amy', 1) }] }, as(SHOP))), /^PERMISSION_DENIED/);
    assert.deepEqual((await client.call(G.listCollections, {}, as(SHOP))).collections.map((c) => c.name), ['shop']);
    assert.deepEqual((await client.call(G.listCollections, {}, as(ADMIN))).collections.map((c) => c.name), ['office', 'shop']);
    assert.match(await outcome(client.call(G.listCollections, {})), /^UNAUTHENTICATED/);
    const enrolled = await client.call(G.enroll, { collection: 'shop', subject: 'amy', images: [{ data: cast('amy', 1) }] }, as(SHOP));
    assert.match(await outcome(client.verify({ a: { input: { case: 'faceId', value: enrolled.faceIds[0] }, collection: 'shop' }, b: { input: { case: 'faceId', value: enrolled.faceIds[0] }, collection: 'shop' } }, as(SHOP))), /^OK/);
    assert.match(await outcome(client.verify({ a: { input: { case: 'faceId', value: enrolled.faceIds[0] }, collection: 'office' }, b: { input: { case: 'image', value: { data: cast('amy', 2) } } } }, as(SHOP))), /^PERMISSION_DENIED/);
  });

  it('refuses beyond the limits of collections, faces per collection and page size, naming them', async () => {
    await client.call(G.createCollection, { name: 'third' }, as(ADMIN));
    assert.match(await outcome(client.call(G.createCollection, { name: 'fourth' }, as(ADMIN))), /^INVALID_ARGUMENT: the gallery has 3 collections, the limit \(FACEREST_MAX_COLLECTIONS=3\)/);
    await client.call(G.enroll, { collection: 'third', subject: 'raj', images: [{ data: cast('raj', 1) }, { data: cast('raj', 2) }] }, as(ADMIN));
    assert.match(await outcome(client.call(G.enroll, { collection: 'third', subject: 'raj', images: [{ data: cast('raj', 3) }] }, as(ADMIN))),
      /^INVALID_ARGUMENT: collection 'third' has 2 faces; 1 more would pass the limit of 2 \(FACEREST_MAX_FACES_PER_COLLECTION\)/);
    assert.match(await outcome(client.call(G.listSubjects, { collection: 'third', pageSize: 6 }, as(ADMIN))), /^INVALID_ARGUMENT: page_size 6 is over the limit of 5 \(FACEREST_MAX_PAGE_SIZE\)/);
  });
});

describe('gallery: another recognizer, and Reembed', () => {
  const data = mkdtempSync(join(tmpdir(), 'facerest-reembed-'));
  after(() => rmSync(data, { recursive: true, force: true }));

  it('refuses a collection of another recognizer naming both, until Reembed moves it to the loaded one', async () => {
    // Enrol with the default pack's recognizer (512 values).
    const first = await startServer({ FACEREST_DATA_DIR: data });
    const c1 = new FaceGrpcClient(first.address);
    await c1.call(G.createCollection, { name: 'cast' });
    await c1.call(G.createCollection, { name: 'nocrops', withoutAlignedFaces: true });
    for (const who of ['amy', 'howard', 'penny']) {
      // largest_face: amy2.png also has a second, small box.
      const res = await c1.call(G.enroll, { collection: 'cast', subject: who, images: [{ data: cast(who, 1) }, { data: cast(who, 2) }], largestFace: true });
      assert.equal(res.faceIds.length, 2, `${who}: ${res.results.map((r) => r.error?.message).join('; ')}`);
    }
    await c1.call(G.enroll, { collection: 'cast', subject: 'given', embeddings: [{ values: Array.from({ length: 512 }, (_, i) => (i === 0 ? 1 : 0)) }] });
    const before = (await c1.call(G.getCollection, { name: 'cast' })).collection!;
    c1.close();
    await first.stop();

    // The same gallery under MobileFaceNet-128.
    const second = await startServer({ FACEREST_DATA_DIR: data, FACEREST_RECOGNIZER: sharedPath('models', 'recognition', 'mobilefacenet_128d.onnx') });
    const c2 = new FaceGrpcClient(second.address);
    try {
      const refused = await outcome(c2.call(G.identify, { collection: 'cast', images: [{ data: cast('amy', 3) }] }));
      assert.match(refused, /^FAILED_PRECONDITION: collection 'cast' holds embeddings of recognizer fr_feature\.onnx .*512 values\) but mobilefacenet_128d\.onnx .*128 values\) is loaded: run Reembed/);
      assert.match(await outcome(c2.call(G.enroll, { collection: 'cast', subject: 'amy', images: [{ data: cast('amy', 3) }] })), /^FAILED_PRECONDITION/);
      assert.match(await outcome(c2.call(G.reembed, { collection: 'nocrops' })), /^FAILED_PRECONDITION: collection 'nocrops' was created without aligned faces/);

      const { stdout } = await promisify(execFile)(process.execPath, [CLI, 'reembed', 'cast', '--server', second.baseUrl]);
      const out = JSON.parse(stdout);
      assert.deepEqual(out, { collection: 'cast', reembedded: 6, removed: 1, recognizer: 'mobilefacenet_128d.onnx', embedding_size: 128 });
      const after = (await c2.call(G.getCollection, { name: 'cast' })).collection!;
      assert.equal(after.recognizer?.embeddingSize, 128);
      assert.notEqual(after.recognizer?.sha256, before.recognizer?.sha256);
      assert.equal(after.faceCount, 6, 'the face given as an embedding had no aligned face: removed');
      const found = await c2.call(G.identify, { collection: 'cast', images: [{ data: cast('amy', 3) }, { data: cast('penny', 4) }] });
      assert.deepEqual(found.results.map((r) => r.faces[0].matches[0]?.subject), ['amy', 'penny']);
    } finally {
      c2.close();
      await second.stop();
    }
  });
});
