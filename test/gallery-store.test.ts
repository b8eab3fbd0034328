/**
 * One behaviour suite for both gallery backends: the embedded SQLite store and the PostgreSQL
 * store over a real wire connection (PGlite + pgvector behind pglite-socket). Embeddings here
 * are random unit vectors: this layer stores and searches, whatever made the vectors.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import pg from 'pg';
import { SCHEMA_VERSION as SQLITE_VERSION, SqliteStore } from '../server/gallery/embedded/sqlite-store.js';
import { SCHEMA_VERSION as PG_VERSION, PostgresStore } from '../server/gallery/postgres/pg-store.js';
import { AlreadyExistsError, type GalleryStore } from '../server/gallery/store.js';
import { startPostgres, type TestPostgres } from './helpers/postgres.js';
import { seededRandom } from './helpers/seeded.js';

function unit(dim: number, rnd: () => number): Float32Array {
  const v = Float32Array.from({ length: dim }, () => rnd() * 2 - 1);
  const n = Math.hypot(...v);
  return v.map((x) => x / n);
}

/** `base` moved a little: a second photo of the same person. */
function near(base: Float32Array, amount: number, rnd: () => number): Float32Array {
  const noise = unit(base.length, rnd);
  const v = base.map((x, i) => x + amount * noise[i]);
  const n = Math.hypot(...v);
  return v.map((x) => x / n);
}

const dot = (a: Float32Array, b: Float32Array) => a.reduce((s, x, i) => s + x * b[i], 0);
const REC = { name: 'test.onnx', sha256: 'ab'.repeat(32), dim: 64 };

interface Backend {
  name: string;
  open(): Promise<GalleryStore>;
  /** Closes and opens again on the same data. */
  reopen(store: GalleryStore): Promise<GalleryStore>;
  schemaVersion(): Promise<number>;
  expected: number;
  cleanup(): Promise<void>;
}

function embedded(): Backend {
  const dir = mkdtempSync(join(tmpdir(), 'facerest-gallery-'));
  return {
    name: 'embedded (SQLite)',
    open: async () => SqliteStore.open(dir),
    async reopen(store) {
      await store.close();
      return SqliteStore.open(dir);
    },
    async schemaVersion() {
      const db = new Database(join(dir, 'gallery.sqlite3'), { readonly: true });
      try {
        return db.pragma('user_version', { simple: true }) as number;
      } finally {
        db.close();
      }
    },
    expected: SQLITE_VERSION,
    async cleanup() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function postgres(): Backend {
  let server: TestPostgres | undefined;
  const url = async () => (server ??= await startPostgres()).url;
  return {
    name: 'PostgreSQL (pgvector, over the wire)',
    open: async () => PostgresStore.open(await url()),
    async reopen(store) {
      await store.close();
      return PostgresStore.open(await url());
    },
    async schemaVersion() {
      const client = new pg.Client(await url());
      await client.connect();
      try {
        return (await client.query<{ version: number }>('SELECT version FROM facerest_schema')).rows[0].version;
      } finally {
        await client.end();
      }
    },
    expected: PG_VERSION,
    async cleanup() {
      await server?.stop();
    },
  };
}

for (const make of [embedded, postgres]) {
  const backend = make();
  describe(`gallery store: ${backend.name}`, () => {
    let store: GalleryStore;
    const rnd = seededRandom(7);
    before(async () => { store = await backend.open(); });
    after(async () => {
      await store.close();
      await backend.cleanup();
    });

    it('creates, lists, gets and deletes collections; a taken name is refused', async () => {
      const c = await store.createCollection({ name: 'people', recognizer: REC, keepCrops: true });
      assert.deepEqual({ ...c, createdAt: undefined }, { name: 'people', recognizer: REC, keepCrops: true, createdAt: undefined, subjectCount: 0, faceCount: 0 });
      await store.createCollection({ name: 'another', recognizer: { ...REC, dim: 32 }, keepCrops: false });
      await assert.rejects(store.createCollection({ name: 'people', recognizer: REC, keepCrops: true }), AlreadyExistsError);
      assert.deepEqual((await store.listCollections()).map((x) => x.name), ['another', 'people']);
      assert.equal((await store.getCollection('another'))?.keepCrops, false);
      assert.equal(await store.getCollection('nobody'), undefined);
      assert.equal(await store.deleteCollection('another'), true);
      assert.equal(await store.deleteCollection('another'), false);
      assert.deepEqual((await store.listCollections()).map((x) => x.name), ['people']);
    });

    it('adds faces and finds each subject by its best face, best first, within topK and minScore', async () => {
      const alice = unit(64, rnd);
      const bob = unit(64, rnd);
      const alice2 = near(alice, 0.3, rnd);
      const aliceIds = await store.addFaces('people', 'alice', [
        { embedding: alice, crop: new Uint8Array([1, 2, 3]) }, { embedding: alice2 },
      ]);
      const [bobId] = await store.addFaces('people', 'bob', [{ embedding: bob }]);
      for (let i = 0; i < 30; i++) await store.addFaces('people', `other${i}`, [{ embedding: unit(64, rnd) }]);
      assert.equal(aliceIds.length, 2);
      assert.notEqual(aliceIds[0], aliceIds[1]);

      const q = near(alice, 0.1, rnd);
      const [matches] = await store.search('people', [q], 3, -1);
      assert.equal(matches.length, 3);
      assert.equal(matches[0].subject, 'alice');
      assert.equal(matches[0].faceId, dot(q, alice) >= dot(q, alice2) ? aliceIds[0] : aliceIds[1], "alice's closer face");
      assert.ok(Math.abs(matches[0].score - Math.max(dot(q, alice), dot(q, alice2))) < 1e-4);
      assert.equal(new Set(matches.map((m) => m.subject)).size, 3, 'one match per subject');
      for (let i = 1; i < matches.length; i++) assert.ok(matches[i - 1].score >= matches[i].score);

      const [byBob] = await store.search('people', [bob], 1, 0.5);
      assert.deepEqual(byBob.map((m) => [m.subject, m.faceId]), [['bob', bobId]]);
      assert.ok(Math.abs(byBob[0].score - 1) < 1e-4);
      const [nobody] = await store.search('people', [unit(64, rnd)], 5, 0.9);
      assert.deepEqual(nobody, [], 'nobody reaches 0.9 with a random face');
    });

    it('the scores are the cosines, and the answer matches an exact scan', async () => {
      const faces = await store.listSubjects('people', 1000);
      const all: { subject: string; id: string; v: Float32Array }[] = [];
      for (const s of faces.items) {
        for (const f of (await store.getSubject('people', s.name, 1000))!.items) {
          all.push({ subject: s.name, id: f.id, v: (await store.getFace('people', f.id))!.embedding });
        }
      }
      for (let t = 0; t < 5; t++) {
        const q = unit(64, rnd);
        const best = new Map<string, number>();
        for (const f of all) best.set(f.subject, Math.max(best.get(f.subject) ?? -2, dot(q, f.v)));
        const exact = [...best.entries()].sort((a, b) => b[1] - a[1]).slice(0, 5);
        const [got] = await store.search('people', [q], 5, -1);
        assert.deepEqual(got.map((m) => m.subject), exact.map((e) => e[0]));
        got.forEach((m, i) => assert.ok(Math.abs(m.score - exact[i][1]) < 1e-4));
      }
    });

    it('pages subjects in name order with a cursor', async () => {
      const seen: string[] = [];
      let cursor: string | undefined;
      let pages = 0;
      do {
        const page = await store.listSubjects('people', 7, cursor);
        assert.ok(page.items.length <= 7);
        seen.push(...page.items.map((s) => s.name));
        cursor = page.next;
        pages++;
      } while (cursor);
      assert.equal(seen.length, 32);
      assert.equal(pages, 5);
      assert.deepEqual(seen, [...seen].sort((a, b) => (a < b ? -1 : 1)));
      const alice = (await store.listSubjects('people', 1)).items[0];
      assert.deepEqual(alice, { name: 'alice', faceCount: 2 });
    });

    it('gets a subject with its faces and crops; gets one face with its embedding', async () => {
      const s = (await store.getSubject('people', 'alice', 100))!;
      assert.equal(s.items.length, 2);
      assert.equal(s.faceCount, 2);
      assert.equal(s.next, undefined);
      assert.deepEqual([...(s.items.find((f) => f.crop)?.crop ?? [])], [1, 2, 3]);
      const f = (await store.getFace('people', s.items[0].id))!;
      assert.equal(f.subject, 'alice');
      assert.equal(f.embedding.length, 64);
      assert.ok(Math.abs(Math.hypot(...f.embedding) - 1) < 1e-5);
      assert.equal(await store.getSubject('people', 'nobody', 100), undefined);
      assert.equal(await store.getFace('people', 'no-such-face'), undefined);
    });

    it("pages a subject's faces oldest first with a cursor, each page with the whole count", async () => {
      const first = (await store.getSubject('people', 'alice', 1))!;
      assert.equal(first.items.length, 1);
      assert.equal(first.faceCount, 2);
      assert.ok(first.next);
      const second = (await store.getSubject('people', 'alice', 1, first.next))!;
      assert.equal(second.items.length, 1);
      assert.equal(second.next, undefined);
      const all = (await store.getSubject('people', 'alice', 100))!.items;
      assert.deepEqual([first.items[0].id, second.items[0].id], all.map((f) => f.id));
      assert.ok(all[0].createdAt <= all[1].createdAt);
    });

    it('deletes a face (its subject goes with its last face) and a subject with all its faces', async () => {
      const bob = (await store.getSubject('people', 'bob', 100))!;
      assert.equal(await store.deleteFace('people', bob.items[0].id), true);
      assert.equal(await store.deleteFace('people', bob.items[0].id), false);
      assert.equal(await store.getSubject('people', 'bob', 100), undefined, 'no subject without faces');
      const [after] = await store.search('people', [(await store.getFace('people', (await store.getSubject('people', 'alice', 100))!.items[0].id))!.embedding], 40, -1);
      assert.ok(!after.some((m) => m.subject === 'bob'));
      assert.equal(await store.deleteSubject('people', 'alice'), 2);
      assert.equal(await store.deleteSubject('people', 'alice'), 0);
      const [none] = await store.search('people', [unit(64, rnd)], 40, -1);
      assert.ok(!none.some((m) => m.subject === 'alice'));
      assert.equal((await store.getCollection('people'))?.subjectCount, 30);
    });

    it('re-embeds in steps: search keeps the old vectors until the commit, which rebinds (new size too)', async () => {
      await store.createCollection({ name: 'upgrade', recognizer: REC, keepCrops: true });
      const old = unit(64, rnd);
      await store.addFaces('upgrade', 'carol', [{ embedding: old, crop: new Uint8Array([9]) }, { embedding: unit(64, rnd), crop: new Uint8Array([8]) }]);
      await store.addFaces('upgrade', 'dave', [{ embedding: unit(64, rnd) }]);
      const crops: { id: string; crop: Uint8Array }[] = [];
      let cursor: string | undefined;
      do {
        const page = await store.cropsForReembed('upgrade', 1, cursor);
        crops.push(...page.items);
        cursor = page.next;
      } while (cursor);
      assert.equal(crops.length, 2, 'dave has no crop');
      const fresh = new Map(crops.map((c) => [c.id, unit(128, rnd)]));
      await store.stageEmbeddings('upgrade', [...fresh].map(([id, embedding]) => ({ id, embedding })));
      const [before] = await store.search('upgrade', [old], 1, 0.99);
      assert.equal(before[0]?.subject, 'carol', 'the old vectors still serve before the commit');
      const result = await store.commitReembed('upgrade', { name: 'new.onnx', sha256: 'cd'.repeat(32), dim: 128 });
      assert.deepEqual(result, { reembedded: 2, removed: 1 });
      const c = (await store.getCollection('upgrade'))!;
      assert.deepEqual(c.recognizer, { name: 'new.onnx', sha256: 'cd'.repeat(32), dim: 128 });
      assert.equal(c.faceCount, 2);
      assert.equal(c.subjectCount, 1, 'dave had no crop: gone');
      const [id, v] = [...fresh][0];
      const [m] = await store.search('upgrade', [v], 1, 0.99);
      assert.deepEqual(m.map((x) => x.faceId), [id]);
    });

    it('keeps everything across a reopen, at the current schema version', async () => {
      const before = await store.listCollections();
      const q = unit(64, rnd);
      const [answer] = await store.search('people', [q], 3, -1);
      store = await backend.reopen(store);
      assert.deepEqual(await store.listCollections(), before);
      const [again] = await store.search('people', [q], 3, -1);
      assert.deepEqual(again.map((m) => m.faceId), answer.map((m) => m.faceId));
      // Read with a connection of its own (the embedded store holds its file exclusively).
      await store.close();
      assert.equal(await backend.schemaVersion(), backend.expected);
      store = await backend.open();
    });
  });
}

describe('gallery store: embedded, one process per data directory', () => {
  it('refuses a second opening of a data directory in use, with a message that says what to do', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'facerest-gallery-lock-'));
    const first = await SqliteStore.open(dir);
    try {
      await assert.rejects(SqliteStore.open(dir), /in use by another facerest process: give each its own FACEREST_DATA_DIR/);
    } finally {
      await first.close();
    }
    const again = await SqliteStore.open(dir);
    await again.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('lets the event loop turn while a large index loads (a server must answer probes meanwhile)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'facerest-gallery-load-'));
    const rnd = seededRandom(7);
    const store = await SqliteStore.open(dir);
    await store.createCollection({ name: 'big', recognizer: REC, keepCrops: false });
    for (let i = 0; i < 10; i++) await store.addFaces('big', `s${i}`, Array.from({ length: 1000 }, () => ({ embedding: unit(64, rnd) })));
    await store.close();
    let turns = 0;
    const tick = setInterval(() => turns++, 0);
    try {
      const reopened = await SqliteStore.open(dir);
      // Synchronous loading would let no timer run before the open resolves; 10,000 faces are
      // 5 chunks with a turn between them.
      assert.ok(turns >= 3, `${turns} turns of the event loop while 10,000 faces loaded`);
      const [found] = await reopened.search('big', [unit(64, rnd)], 3, -1);
      assert.equal(found.length, 3, 'every subject is searchable after the load');
      assert.equal((await reopened.getCollection('big'))?.faceCount, 10_000);
      await reopened.close();
    } finally {
      clearInterval(tick);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
