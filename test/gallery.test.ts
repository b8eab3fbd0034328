/**
 * The gallery's RPCs against the real server, over @grpc/grpc-js, on both backends: the
 * embedded store (the default) and PostgreSQL + pgvector over a real wire connection. Real
 * photos of ../shared/faces: the Big Bang Theory cast crops of face-api.js (identities.csv).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ImageErrorCode } from '../gen/facerest/v1/face_service_pb.js';
import { GalleryService } from '../gen/facerest/v1/gallery_service_pb.js';
import { FaceGrpcClient } from '../clients/node/grpc-client.js';
import { BBT, readShared } from './helpers/data.js';
import { startPostgres, type TestPostgres } from './helpers/postgres.js';
import { outcome } from './helpers/outcome.js';
import { startServer, type TestServer } from './helpers/server.js';

const G = GalleryService.method;
const cast = (who: string, n: number) => readShared('faces', 'face-api.js', 'examples', 'images', who, `${who}${n}.png`);


for (const backend of ['embedded', 'postgres'] as const) {
  describe(`gallery RPCs (${backend})`, () => {
    let pg: TestPostgres | undefined;
    let server: TestServer;
    let client: FaceGrpcClient;
    before(async () => {
      pg = backend === 'postgres' ? await startPostgres() : undefined;
      server = await startServer(pg ? pg.env : {});
      client = new FaceGrpcClient(server.address);
    });
    after(async () => {
      client?.close();
      await server?.stop();
      await pg?.stop();
    });

    it('creates, lists, gets and deletes collections, bound to the loaded recognizer', async () => {
      const info = await client.info();
      const rec = info.models.find((m) => m.embeddingSize > 0)!;
      const { collection } = await client.call(G.createCollection, { name: 'cast' });
      assert.equal(collection?.name, 'cast');
      assert.equal(collection?.recognizer?.name, rec.name);
      assert.equal(collection?.recognizer?.embeddingSize, rec.embeddingSize);
      assert.match(collection?.recognizer?.sha256 ?? '', /^[0-9a-f]{64}$/);
      assert.equal(collection?.keepsAlignedFaces, true);
      assert.match(await outcome(client.call(G.createCollection, { name: 'cast' })), /^ALREADY_EXISTS: collection 'cast' already exists/);
      assert.match(await outcome(client.call(G.createCollection, { name: 'bad name!' })), /^INVALID_ARGUMENT: collection name "bad name!" is invalid/);
      assert.match(await outcome(client.call(G.createCollection, { name: '' })), /^INVALID_ARGUMENT/);
      assert.match(await outcome(client.call(G.createCollection, { name: 'x'.repeat(129) })), /^INVALID_ARGUMENT/);
      await client.call(G.createCollection, { name: 'tmp', withoutAlignedFaces: true });
      assert.deepEqual((await client.call(G.listCollections, {})).collections.map((c) => c.name), ['cast', 'tmp']);
      assert.equal((await client.call(G.getCollection, { name: 'tmp' })).collection?.keepsAlignedFaces, false);
      await client.call(G.deleteCollection, { name: 'tmp' });
      assert.match(await outcome(client.call(G.getCollection, { name: 'tmp' })), /^NOT_FOUND: no collection 'tmp'/);
      assert.match(await outcome(client.call(G.deleteCollection, { name: 'tmp' })), /^NOT_FOUND/);
    });

    it('enrols the face of each image; an image without one, with several, or broken is refused alone', async () => {
      const grey = readShared('faces', 'face-api.js', 'examples', 'images', 'sheldon', 'sheldon1.png').subarray(0, 0);
      const res = await client.call(G.enroll, {
        collection: 'cast', subject: 'sheldon',
        images: [{ data: cast('sheldon', 1) }, { data: readShared('faces', BBT[0]) }, { data: grey }, { data: cast('sheldon', 2) }],
      });
      assert.equal(res.faceIds.length, 2);
      assert.equal(res.results.length, 4);
      assert.equal(res.results[0].faceId, res.faceIds[0]);
      assert.equal(res.results[3].faceId, res.faceIds[1]);
      assert.equal(res.results[1].error?.code, ImageErrorCode.MULTIPLE_FACES);
      assert.match(res.results[1].error?.message ?? '', /faces in the image: enrol one face per image, or set largest_face/);
      assert.equal(res.results[2].error?.code, ImageErrorCode.CORRUPT);
      assert.ok((res.results[0].face?.box?.x2 ?? 0) > 0, 'the face enrolled comes back with its box');
      assert.equal(res.results[0].face?.alignedFace.length, 0, 'no aligned face unless asked for');

      // With largest_face, a group photo enrols its largest face.
      const group = await client.call(G.enroll, { collection: 'cast', subject: 'group', images: [{ data: readShared('faces', BBT[0]) }], largestFace: true });
      assert.equal(group.faceIds.length, 1);
      const blank = await client.call(G.enroll, { collection: 'cast', subject: 'nobody', images: [{ data: await blankPng() }] });
      assert.equal(blank.results[0].error?.code, ImageErrorCode.NO_FACE);
      assert.deepEqual(blank.faceIds, []);
      for (const who of ['leonard', 'penny', 'howard', 'raj', 'amy']) {
        assert.equal((await client.call(G.enroll, { collection: 'cast', subject: who, images: [{ data: cast(who, 1) }] })).faceIds.length, 1, who);
      }
    });

    it('identifies each face: the enrolled person best first, an unknown one with no match', async () => {
      const res = await client.call(G.identify, {
        collection: 'cast', images: [{ data: cast('sheldon', 3) }, { data: cast('penny', 4) }, { data: cast('bernadette', 1) }], topK: 2,
      });
      assert.ok(res.threshold > 0, 'the recognizer threshold is the default');
      assert.equal(res.results.length, 3);
      const [sheldon, penny, bernadette] = res.results.map((r) => r.faces[0]);
      assert.equal(sheldon.matches[0]?.subject, 'sheldon');
      assert.ok(sheldon.matches[0].score >= res.threshold);
      assert.ok(sheldon.matches.length <= 2);
      assert.equal(penny.matches[0]?.subject, 'penny');
      assert.deepEqual(bernadette.matches, [], 'bernadette is not enrolled: unknown');
      // Any threshold: the best subjects whatever their score, one match per subject.
      const all = await client.call(G.identify, { collection: 'cast', images: [{ data: cast('sheldon', 4) }], topK: 5, threshold: -1 });
      const subjects = all.results[0].faces[0].matches.map((m) => m.subject);
      assert.equal(subjects.length, 5);
      assert.equal(new Set(subjects).size, 5);
      assert.equal(subjects[0], 'sheldon');
    });

    it('lists subjects a page at a time; gets one with its aligned faces; deletes a face and a subject', async () => {
      const names: string[] = [];
      let token = '';
      do {
        const page = await client.call(G.listSubjects, { collection: 'cast', pageSize: 3, pageToken: token });
        assert.ok(page.subjects.length <= 3);
        names.push(...page.subjects.map((s) => s.name));
        token = page.nextPageToken;
      } while (token);
      assert.deepEqual(names, ['amy', 'group', 'howard', 'leonard', 'penny', 'raj', 'sheldon']);
      assert.match(await outcome(client.call(G.listSubjects, { collection: 'cast', pageToken: 'not-a-token' })), /^INVALID_ARGUMENT: page_token/);
      const s = await client.call(G.getSubject, { collection: 'cast', subject: 'sheldon' });
      assert.equal(s.subject?.faceCount, 2);
      assert.equal(s.nextPageToken, '');
      for (const f of s.faces) assert.deepEqual([...f.alignedFace.subarray(0, 2)], [0xff, 0xd8], 'a JPEG');
      // A subject's faces come in pages too, oldest first, each page with the whole count.
      const first = await client.call(G.getSubject, { collection: 'cast', subject: 'sheldon', pageSize: 1 });
      assert.deepEqual([first.faces.length, first.subject?.faceCount], [1, 2]);
      const second = await client.call(G.getSubject, { collection: 'cast', subject: 'sheldon', pageSize: 1, pageToken: first.nextPageToken });
      assert.deepEqual([...first.faces, ...second.faces].map((f) => f.faceId), s.faces.map((f) => f.faceId));
      assert.equal(second.nextPageToken, '');
      assert.match(await outcome(client.call(G.getSubject, { collection: 'cast', subject: 'sheldon', pageSize: 5000 })),
        /^INVALID_ARGUMENT: page_size 5000 is over the limit of 1000 \(FACEREST_MAX_PAGE_SIZE\)/);
      await client.call(G.deleteFace, { collection: 'cast', faceId: s.faces[0].faceId });
      assert.match(await outcome(client.call(G.deleteFace, { collection: 'cast', faceId: s.faces[0].faceId })), /^NOT_FOUND: no face/);
      assert.equal((await client.call(G.getSubject, { collection: 'cast', subject: 'sheldon' })).faces.length, 1);
      assert.equal((await client.call(G.deleteSubject, { collection: 'cast', subject: 'group' })).deletedFaces, 1);
      assert.match(await outcome(client.call(G.getSubject, { collection: 'cast', subject: 'group' })), /^NOT_FOUND: no subject 'group'/);
      assert.match(await outcome(client.call(G.listSubjects, { collection: 'nope' })), /^NOT_FOUND: no collection 'nope'/);
    });

    it('verifies two faces given as images, embeddings or enrolled faces', async () => {
      const same = await client.verify({ a: { input: { case: 'image', value: { data: cast('leonard', 2) } } }, b: { input: { case: 'image', value: { data: cast('leonard', 3) } } } });
      assert.equal(same.same, true);
      assert.ok(same.score >= same.threshold);
      assert.ok((same.a?.face?.box?.x2 ?? 0) > 0);
      const other = await client.verify({ a: { input: { case: 'image', value: { data: cast('leonard', 2) } } }, b: { input: { case: 'image', value: { data: cast('raj', 2) } } } });
      assert.equal(other.same, false);
      const leonard = (await client.call(G.getSubject, { collection: 'cast', subject: 'leonard' })).faces[0].faceId;
      const enrolled = await client.verify({
        a: { input: { case: 'faceId', value: leonard }, collection: 'cast' },
        b: { input: { case: 'embedding', value: { values: same.b!.face!.embedding } } },
      });
      assert.equal(enrolled.a?.subject, 'leonard');
      assert.equal(enrolled.same, true);
      const strict = await client.verify({ ...{ a: { input: { case: 'faceId', value: leonard }, collection: 'cast' } }, b: { input: { case: 'faceId', value: leonard }, collection: 'cast' }, threshold: 0.9999 });
      assert.ok(Math.abs(strict.score - 1) < 1e-5);
      assert.ok(Math.abs(strict.threshold - 0.9999) < 1e-6, 'the threshold asked for');
      assert.match(await outcome(client.verify({ a: { input: { case: 'embedding', value: { values: [1, 2, 3] } } }, b: { input: { case: 'faceId', value: leonard }, collection: 'cast' } })),
        /^INVALID_ARGUMENT: a.embedding has 3 values; the recognizer's embeddings have \d+/);
      assert.match(await outcome(client.verify({ a: { input: { case: 'image', value: { data: await blankPng() } } }, b: { input: { case: 'faceId', value: leonard }, collection: 'cast' } })),
        /^INVALID_ARGUMENT: a.image: no face found/);
      assert.match(await outcome(client.verify({ b: { input: { case: 'faceId', value: leonard }, collection: 'cast' } })), /^INVALID_ARGUMENT: a: give an image/);
    });

    it('enrols embeddings given by the caller; refuses ones of the wrong size', async () => {
      const ex = await client.extract({ images: [{ data: cast('stuart', 1) }] });
      const res = await client.call(G.enroll, { collection: 'cast', subject: 'stuart', embeddings: [{ values: ex.results[0].faces[0].embedding }] });
      assert.equal(res.faceIds.length, 1);
      const found = await client.call(G.identify, { collection: 'cast', images: [{ data: cast('stuart', 2) }] });
      assert.equal(found.results[0].faces[0].matches[0]?.subject, 'stuart');
      assert.match(await outcome(client.call(G.enroll, { collection: 'cast', subject: 'stuart', embeddings: [{ values: [0.5, 0.5] }] })),
        /^INVALID_ARGUMENT: embeddings\[0\] has 2 values/);
      assert.match(await outcome(client.call(G.enroll, { collection: 'cast', subject: 'a b', embeddings: [{ values: [1] }] })), /^INVALID_ARGUMENT: subject name/);
    });
  });
}

/** A plain grey PNG: a valid image without a face. */
async function blankPng(): Promise<Buffer> {
  const { default: sharp } = await import('sharp');
  return sharp({ create: { width: 200, height: 200, channels: 3, background: '#808080' } }).png().toBuffer();
}
