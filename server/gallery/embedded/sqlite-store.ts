/**
 * The default gallery backend, nothing to install: SQLite (better-sqlite3) in FACEREST_DATA_DIR
 * is the store of record, and each collection's embeddings are loaded into a VectorIndex at
 * open. SQLite runs in WAL mode with synchronous=FULL, so a write is on disk when its call
 * returns: an acknowledged enrolment survives kill -9 and power loss, and a batch is one
 * transaction (all or nothing). One process owns the directory (SQLite's lock would let a
 * second one write, but its index would not see the first's faces): more replicas need the
 * PostgreSQL backend.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import {
  AlreadyExistsError, newFaceId, NotFoundError, type CollectionRecord, type FaceRecord, type GalleryStore, type Match, type NewFace, type Page,
  type RecognizerBinding, type SubjectSummary,
} from '../store.js';
import { VectorIndex } from './vector-index.js';

/** Each entry brings the schema from version i to i + 1; PRAGMA user_version holds the version. */
const MIGRATIONS: string[] = [
  `CREATE TABLE collections (
     id INTEGER PRIMARY KEY,
     name TEXT NOT NULL UNIQUE,
     recognizer_name TEXT NOT NULL,
     recognizer_sha256 TEXT NOT NULL,
     dim INTEGER NOT NULL,
     keep_crops INTEGER NOT NULL,
     created_at INTEGER NOT NULL
   );
   CREATE TABLE subjects (
     id INTEGER PRIMARY KEY,
     collection_id INTEGER NOT NULL REFERENCES collections(id) ON DELETE CASCADE,
     name TEXT NOT NULL,
     UNIQUE (collection_id, name)
   );
   CREATE TABLE faces (
     id TEXT PRIMARY KEY,
     collection_id INTEGER NOT NULL REFERENCES collections(id) ON DELETE CASCADE,
     subject_id INTEGER NOT NULL REFERENCES subjects(id) ON DELETE CASCADE,
     embedding BLOB NOT NULL,
     staged BLOB,
     crop BLOB,
     created_at INTEGER NOT NULL
   );
   CREATE INDEX faces_subject ON faces (subject_id);
   CREATE INDEX faces_collection ON faces (collection_id, id);`,
];

export const SCHEMA_VERSION = MIGRATIONS.length;

interface CollectionRow {
  id: number;
  name: string;
  recognizer_name: string;
  recognizer_sha256: string;
  dim: number;
  keep_crops: number;
  created_at: number;
}

/**
 * Faces read per turn of the event loop while the gallery opens: about 50 ms of work at the 23 us
 * a face measured when opening 1M faces (bench:gallery).
 */
const LOAD_CHUNK = 2000;

const blob = (v: Float32Array) => Buffer.from(v.buffer, v.byteOffset, v.byteLength);
/** A copy: SQLite's buffers are not aligned for a Float32Array view. */
const floats = (b: Buffer) => new Float32Array(new Uint8Array(b).buffer);

export class SqliteStore implements GalleryStore {
  readonly backend = 'embedded';
  private readonly indexes = new Map<number, VectorIndex>();

  private constructor(private readonly db: Database.Database) {}

  /**
   * Opens (creating) the gallery in `dir`, migrates it and loads every collection's index. The
   * index is read in chunks that let the event loop turn: a gallery of 1M faces takes about 23 s
   * to load, and the server must answer health probes and listen meanwhile.
   */
  static async open(dir: string): Promise<SqliteStore> {
    mkdirSync(dir, { recursive: true });
    const db = new Database(join(dir, 'gallery.sqlite3'));
    // One process owns the gallery: a second one would serve its own stale in-memory index.
    // Exclusive locking makes it fail at open instead (and lets WAL work without shared memory).
    db.pragma('locking_mode = EXCLUSIVE');
    try {
      db.pragma('journal_mode = WAL');
    } catch (err) {
      db.close();
      if ((err as { code?: string }).code === 'SQLITE_BUSY') {
        throw new Error(`the gallery in ${dir} is in use by another facerest process: give each its own FACEREST_DATA_DIR, or share a PostgreSQL gallery (FACEREST_DATABASE_URL)`);
      }
      throw err;
    }
    db.pragma('synchronous = FULL');
    db.pragma('foreign_keys = ON');
    const version = db.pragma('user_version', { simple: true }) as number;
    if (version > MIGRATIONS.length) {
      db.close();
      throw new Error(`the gallery in ${dir} has schema version ${version}, newer than this facerest (${MIGRATIONS.length}): upgrade facerest`);
    }
    db.transaction(() => {
      for (let v = version; v < MIGRATIONS.length; v++) db.exec(MIGRATIONS[v]);
      db.pragma(`user_version = ${MIGRATIONS.length}`);
    })();
    const store = new SqliteStore(db);
    try {
      for (const c of db.prepare('SELECT id, dim FROM collections').all() as { id: number; dim: number }[]) {
        await store.loadIndex(c.id, c.dim, () => new Promise((resolve) => setImmediate(resolve)));
      }
    } catch (err) {
      db.close();
      throw err;
    }
    return store;
  }

  private row(name: string): CollectionRow | undefined {
    return this.db.prepare('SELECT * FROM collections WHERE name = ?').get(name) as CollectionRow | undefined;
  }

  private record(r: CollectionRow): CollectionRecord {
    const counts = this.db.prepare(`SELECT (SELECT count(*) FROM subjects WHERE collection_id = ?) AS subjects,
      (SELECT count(*) FROM faces WHERE collection_id = ?) AS faces`).get(r.id, r.id) as { subjects: number; faces: number };
    return {
      name: r.name,
      recognizer: { name: r.recognizer_name, sha256: r.recognizer_sha256, dim: r.dim },
      keepCrops: r.keep_crops === 1,
      createdAt: new Date(r.created_at),
      subjectCount: counts.subjects,
      faceCount: counts.faces,
    };
  }

  async createCollection(c: { name: string; recognizer: RecognizerBinding; keepCrops: boolean }): Promise<CollectionRecord> {
    try {
      const { lastInsertRowid } = this.db.prepare(`INSERT INTO collections (name, recognizer_name, recognizer_sha256, dim, keep_crops, created_at)
        VALUES (?, ?, ?, ?, ?, ?)`).run(c.name, c.recognizer.name, c.recognizer.sha256, c.recognizer.dim, c.keepCrops ? 1 : 0, Date.now());
      this.indexes.set(Number(lastInsertRowid), new VectorIndex(c.recognizer.dim));
    } catch (err) {
      if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE') throw new AlreadyExistsError(`collection '${c.name}' already exists`);
      throw err;
    }
    return this.record(this.row(c.name)!);
  }

  async listCollections(): Promise<CollectionRecord[]> {
    return (this.db.prepare('SELECT * FROM collections ORDER BY name').all() as CollectionRow[]).map((r) => this.record(r));
  }

  async getCollection(name: string): Promise<CollectionRecord | undefined> {
    const r = this.row(name);
    return r && this.record(r);
  }

  async deleteCollection(name: string): Promise<boolean> {
    const r = this.row(name);
    if (!r) return false;
    this.db.prepare('DELETE FROM collections WHERE id = ?').run(r.id);
    this.indexes.delete(r.id);
    return true;
  }

  private collectionId(name: string): { id: number; index: VectorIndex } {
    const r = this.row(name);
    if (!r) throw new NotFoundError(`no collection '${name}'`);
    return { id: r.id, index: this.indexes.get(r.id)! };
  }

  async addFaces(collection: string, subject: string, faces: NewFace[]): Promise<string[]> {
    const { id: cid, index } = this.collectionId(collection);
    const ids = faces.map(() => newFaceId());
    const now = Date.now();
    this.db.transaction(() => {
      this.db.prepare('INSERT OR IGNORE INTO subjects (collection_id, name) VALUES (?, ?)').run(cid, subject);
      const { id: sid } = this.db.prepare('SELECT id FROM subjects WHERE collection_id = ? AND name = ?').get(cid, subject) as { id: number };
      const insert = this.db.prepare('INSERT INTO faces (id, collection_id, subject_id, embedding, crop, created_at) VALUES (?, ?, ?, ?, ?, ?)');
      faces.forEach((f, i) => insert.run(ids[i], cid, sid, blob(f.embedding), f.crop ? Buffer.from(f.crop) : null, now));
    })();
    // In memory only once the transaction is on disk.
    faces.forEach((f, i) => index.add(ids[i], subject, f.embedding));
    return ids;
  }

  async search(collection: string, queries: Float32Array[], topK: number, minScore: number): Promise<Match[][]> {
    const { index } = this.collectionId(collection);
    return queries.map((q) => index.search(q, topK, minScore));
  }

  async listSubjects(collection: string, pageSize: number, cursor?: string): Promise<Page<SubjectSummary>> {
    const { id } = this.collectionId(collection);
    const rows = this.db.prepare(`SELECT s.name, (SELECT count(*) FROM faces f WHERE f.subject_id = s.id) AS faceCount
      FROM subjects s WHERE s.collection_id = ? AND s.name > ? ORDER BY s.name LIMIT ?`).all(id, cursor ?? '', pageSize + 1) as SubjectSummary[];
    const more = rows.length > pageSize;
    const items = rows.slice(0, pageSize);
    return { items, next: more ? items[items.length - 1].name : undefined };
  }

  async getSubject(collection: string, subject: string, pageSize: number, cursor?: string): Promise<(SubjectSummary & Page<FaceRecord>) | undefined> {
    const { id } = this.collectionId(collection);
    const s = this.db.prepare(`SELECT id, (SELECT count(*) FROM faces f WHERE f.subject_id = subjects.id) AS faceCount
      FROM subjects WHERE collection_id = ? AND name = ?`).get(id, subject) as { id: number; faceCount: number } | undefined;
    if (!s) return undefined;
    // Face ids are UUIDv7: in text order they are in creation order.
    const rows = this.db.prepare('SELECT id, crop, created_at FROM faces WHERE subject_id = ? AND id > ? ORDER BY id LIMIT ?')
      .all(s.id, cursor ?? '', pageSize + 1) as { id: string; crop: Buffer | null; created_at: number }[];
    const items = rows.slice(0, pageSize).map((f) => ({ id: f.id, subject, createdAt: new Date(f.created_at), crop: f.crop ?? undefined }));
    return { name: subject, faceCount: s.faceCount, items, next: rows.length > pageSize ? items[items.length - 1].id : undefined };
  }

  async deleteSubject(collection: string, subject: string): Promise<number> {
    const { id, index } = this.collectionId(collection);
    const s = this.db.prepare('SELECT id FROM subjects WHERE collection_id = ? AND name = ?').get(id, subject) as { id: number } | undefined;
    if (!s) return 0;
    const n = (this.db.prepare('SELECT count(*) AS n FROM faces WHERE subject_id = ?').get(s.id) as { n: number }).n;
    this.db.prepare('DELETE FROM subjects WHERE id = ?').run(s.id);
    index.removeSubject(subject);
    return n;
  }

  async deleteFace(collection: string, faceId: string): Promise<boolean> {
    const { id, index } = this.collectionId(collection);
    const deleted = this.db.transaction(() => {
      const f = this.db.prepare('SELECT subject_id FROM faces WHERE id = ? AND collection_id = ?').get(faceId, id) as { subject_id: number } | undefined;
      if (!f) return false;
      this.db.prepare('DELETE FROM faces WHERE id = ?').run(faceId);
      this.db.prepare('DELETE FROM subjects WHERE id = ? AND NOT EXISTS (SELECT 1 FROM faces WHERE subject_id = ?)').run(f.subject_id, f.subject_id);
      return true;
    })();
    if (deleted) index.remove(faceId);
    return deleted;
  }

  async getFace(collection: string, faceId: string): Promise<(FaceRecord & { embedding: Float32Array }) | undefined> {
    const { id } = this.collectionId(collection);
    const f = this.db.prepare(`SELECT f.id, s.name AS subject, f.embedding, f.crop, f.created_at FROM faces f
      JOIN subjects s ON s.id = f.subject_id WHERE f.id = ? AND f.collection_id = ?`).get(faceId, id) as
      { id: string; subject: string; embedding: Buffer; crop: Buffer | null; created_at: number } | undefined;
    return f && { id: f.id, subject: f.subject, createdAt: new Date(f.created_at), crop: f.crop ?? undefined, embedding: floats(f.embedding) };
  }

  async cropsForReembed(collection: string, batch: number, cursor?: string): Promise<Page<{ id: string; crop: Uint8Array }>> {
    const { id } = this.collectionId(collection);
    const rows = this.db.prepare(`SELECT id, crop FROM faces WHERE collection_id = ? AND crop IS NOT NULL AND id > ?
      ORDER BY id LIMIT ?`).all(id, cursor ?? '', batch) as { id: string; crop: Buffer }[];
    const items = rows.map((r) => ({ id: r.id, crop: new Uint8Array(r.crop) }));
    return { items, next: rows.length === batch ? rows[rows.length - 1].id : undefined };
  }

  async stageEmbeddings(collection: string, vectors: { id: string; embedding: Float32Array }[]): Promise<void> {
    const { id } = this.collectionId(collection);
    const stage = this.db.prepare('UPDATE faces SET staged = ? WHERE id = ? AND collection_id = ?');
    this.db.transaction(() => { for (const v of vectors) stage.run(blob(v.embedding), v.id, id); })();
  }

  async commitReembed(collection: string, recognizer: RecognizerBinding): Promise<{ reembedded: number; removed: number }> {
    const { id } = this.collectionId(collection);
    const result = this.db.transaction(() => {
      const removed = this.db.prepare('DELETE FROM faces WHERE collection_id = ? AND staged IS NULL').run(id).changes;
      const reembedded = this.db.prepare('UPDATE faces SET embedding = staged, staged = NULL WHERE collection_id = ?').run(id).changes;
      this.db.prepare('DELETE FROM subjects WHERE collection_id = ? AND NOT EXISTS (SELECT 1 FROM faces f WHERE f.subject_id = subjects.id)').run(id);
      this.db.prepare('UPDATE collections SET recognizer_name = ?, recognizer_sha256 = ?, dim = ? WHERE id = ?')
        .run(recognizer.name, recognizer.sha256, recognizer.dim, id);
      return { reembedded, removed };
    })();
    // Synchronous (no `between`): the index is swapped before any other call runs.
    await this.loadIndex(id, recognizer.dim);
    return result;
  }

  /**
   * Builds a collection's index from its rows, LOAD_CHUNK at a time, awaiting `between` after each
   * chunk. Without it the whole build is synchronous (Reembed's swap: no call may see the table
   * and the index disagree).
   */
  private async loadIndex(cid: number, dim: number, between?: () => Promise<void>): Promise<void> {
    const count = (this.db.prepare('SELECT count(*) AS n FROM faces WHERE collection_id = ?').get(cid) as { n: number }).n;
    const index = new VectorIndex(dim, Math.max(1024, count));
    const chunk = this.db.prepare(`SELECT f.id, s.name, f.embedding FROM faces f JOIN subjects s ON s.id = f.subject_id
      WHERE f.collection_id = ? AND f.id > ? ORDER BY f.id LIMIT ?`).raw();
    for (let after = ''; ;) {
      const rows = chunk.all(cid, after, LOAD_CHUNK) as [string, string, Buffer][];
      for (const [id, subject, embedding] of rows) index.add(id, subject, floats(embedding));
      if (rows.length < LOAD_CHUNK) break;
      after = rows[rows.length - 1][0];
      if (between) await between();
    }
    this.indexes.set(cid, index);
  }

  async close(): Promise<void> {
    this.db.close();
  }
}
