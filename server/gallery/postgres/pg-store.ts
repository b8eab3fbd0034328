/**
 * The gallery on PostgreSQL with pgvector (FACEREST_DATABASE_URL), for many facerest replicas
 * sharing one gallery: PostgreSQL keeps it durable and replicated, and every replica sees every
 * write at once (no in-process cache of faces). Each collection gets its own HNSW index, a
 * partial expression index on its rows at its dimension, so collections of different
 * recognizers share one table.
 *
 * Every write is one statement, or one simple-protocol message of several statements, which
 * PostgreSQL runs as one implicit transaction: a batch is all or nothing without holding a
 * client across round trips. Any PostgreSQL with pgvector >= 0.5 (HNSW) serves.
 */
import pg from 'pg';
import {
  AlreadyExistsError, newFaceId, NotFoundError, type CollectionRecord, type FaceRecord, type GalleryStore, type Match, type NewFace, type Page,
  type RecognizerBinding, type SubjectSummary,
} from '../store.js';

/**
 * Each entry brings the schema from version i to i + 1 (table facerest_schema). Replicas take
 * turns under an advisory lock; the statements are idempotent too, so a migration that runs
 * twice (a pooler that does not keep sessions, or PGlite's one shared session) does no harm.
 */
const MIGRATIONS: string[] = [
  `CREATE EXTENSION IF NOT EXISTS vector;
   CREATE TABLE IF NOT EXISTS collections (
     id serial PRIMARY KEY,
     name text NOT NULL UNIQUE,
     recognizer_name text NOT NULL,
     recognizer_sha256 text NOT NULL,
     dim integer NOT NULL,
     keep_crops boolean NOT NULL,
     created_at timestamptz NOT NULL DEFAULT now()
   );
   CREATE TABLE IF NOT EXISTS subjects (
     id serial PRIMARY KEY,
     collection_id integer NOT NULL REFERENCES collections (id) ON DELETE CASCADE,
     name text NOT NULL,
     UNIQUE (collection_id, name)
   );
   CREATE TABLE IF NOT EXISTS faces (
     id text PRIMARY KEY,
     collection_id integer NOT NULL REFERENCES collections (id) ON DELETE CASCADE,
     subject_id integer NOT NULL REFERENCES subjects (id) ON DELETE CASCADE,
     embedding vector NOT NULL,
     staged vector,
     crop bytea,
     created_at timestamptz NOT NULL DEFAULT now()
   );
   CREATE INDEX IF NOT EXISTS faces_subject ON faces (subject_id);
   CREATE INDEX IF NOT EXISTS faces_collection ON faces (collection_id, id);`,
];

export const SCHEMA_VERSION = MIGRATIONS.length;

/** Any number: replicas starting together take turns migrating under this advisory lock. */
const MIGRATION_LOCK = 0x66616365;

interface CollectionRow {
  id: number;
  name: string;
  recognizer_name: string;
  recognizer_sha256: string;
  dim: number;
  keep_crops: boolean;
  created_at: Date;
  subjects: string;
  faces: string;
}

const vectorText = (v: Float32Array) => `[${Array.from(v).join(',')}]`;
const parseVector = (text: string) => Float32Array.from(JSON.parse(text) as number[]);
const indexName = (id: number) => `faces_hnsw_${id}`;
/**
 * The collection's rows at its size. The size is in the predicate, and so checked before the
 * cast, because an index build also reads row versions that a re-embedding has just replaced
 * (in its own transaction), whose vectors have the old size.
 */
const rowsOf = (id: number, dim: number) => `collection_id = ${id} AND vector_dims(embedding) = ${dim}`;
const createIndex = (id: number, dim: number) =>
  `CREATE INDEX ${indexName(id)} ON faces USING hnsw ((embedding::vector(${dim})) vector_cosine_ops) WHERE ${rowsOf(id, dim)}`;

const COLLECTION_SELECT = `SELECT c.*, (SELECT count(*) FROM subjects s WHERE s.collection_id = c.id) AS subjects,
  (SELECT count(*) FROM faces f WHERE f.collection_id = c.id) AS faces FROM collections c`;

export class PostgresStore implements GalleryStore {
  readonly backend = 'postgres';

  private constructor(private readonly pool: pg.Pool) {}

  /** `connections`: the pool's size (FACEREST_DATABASE_POOL_SIZE). */
  static async open(url: string, connections = 8): Promise<PostgresStore> {
    const pool = new pg.Pool({ connectionString: url, max: connections });
    pool.on('error', () => { /* an idle client lost: the pool replaces it */ });
    const client = await pool.connect();
    try {
      await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
      await client.query('CREATE TABLE IF NOT EXISTS facerest_schema (version integer NOT NULL)');
      const { rows } = await client.query<{ version: number }>('SELECT version FROM facerest_schema');
      const version = rows[0]?.version ?? 0;
      if (version > MIGRATIONS.length) {
        throw new Error(`the gallery database has schema version ${version}, newer than this facerest (${MIGRATIONS.length}): upgrade facerest`);
      }
      for (let v = version; v < MIGRATIONS.length; v++) {
        // One message: the migration and its version number commit together.
        await client.query(`${MIGRATIONS[v]};
          DELETE FROM facerest_schema; INSERT INTO facerest_schema (version) VALUES (${v + 1});`);
      }
    } catch (err) {
      client.release(true);
      await pool.end();
      throw err;
    }
    await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]);
    client.release();
    return new PostgresStore(pool);
  }

  private record(r: CollectionRow): CollectionRecord {
    return {
      name: r.name,
      recognizer: { name: r.recognizer_name, sha256: r.recognizer_sha256, dim: r.dim },
      keepCrops: r.keep_crops,
      createdAt: r.created_at,
      subjectCount: Number(r.subjects),
      faceCount: Number(r.faces),
    };
  }

  private async collection(name: string): Promise<{ id: number; dim: number }> {
    const { rows } = await this.pool.query<{ id: number; dim: number }>('SELECT id, dim FROM collections WHERE name = $1', [name]);
    if (!rows[0]) throw new NotFoundError(`no collection '${name}'`);
    return rows[0];
  }

  async createCollection(c: { name: string; recognizer: RecognizerBinding; keepCrops: boolean }): Promise<CollectionRecord> {
    let id: number;
    try {
      ({ rows: [{ id }] } = await this.pool.query<{ id: number }>(`INSERT INTO collections (name, recognizer_name, recognizer_sha256, dim, keep_crops)
        VALUES ($1, $2, $3, $4, $5) RETURNING id`, [c.name, c.recognizer.name, c.recognizer.sha256, c.recognizer.dim, c.keepCrops]));
    } catch (err) {
      if ((err as { code?: string }).code === '23505') throw new AlreadyExistsError(`collection '${c.name}' already exists`);
      throw err;
    }
    await this.pool.query(createIndex(id, c.recognizer.dim));
    return (await this.getCollection(c.name))!;
  }

  async listCollections(): Promise<CollectionRecord[]> {
    const { rows } = await this.pool.query<CollectionRow>(`${COLLECTION_SELECT} ORDER BY c.name`);
    return rows.map((r) => this.record(r));
  }

  async getCollection(name: string): Promise<CollectionRecord | undefined> {
    const { rows } = await this.pool.query<CollectionRow>(`${COLLECTION_SELECT} WHERE c.name = $1`, [name]);
    return rows[0] && this.record(rows[0]);
  }

  async deleteCollection(name: string): Promise<boolean> {
    const { rows } = await this.pool.query<{ id: number }>('DELETE FROM collections WHERE name = $1 RETURNING id', [name]);
    if (!rows[0]) return false;
    await this.pool.query(`DROP INDEX IF EXISTS ${indexName(rows[0].id)}`);
    return true;
  }

  async addFaces(collection: string, subject: string, faces: NewFace[]): Promise<string[]> {
    const ids = faces.map(() => newFaceId());
    // One statement: the subject and all its new faces, or nothing.
    const { rowCount } = await this.pool.query(`WITH c AS (SELECT id FROM collections WHERE name = $1),
      s AS (INSERT INTO subjects (collection_id, name) SELECT id, $2 FROM c
            ON CONFLICT (collection_id, name) DO UPDATE SET name = EXCLUDED.name RETURNING id, collection_id)
      INSERT INTO faces (id, collection_id, subject_id, embedding, crop)
      SELECT u.id, s.collection_id, s.id, u.v::vector, u.c FROM s, unnest($3::text[], $4::text[], $5::bytea[]) AS u(id, v, c)`,
    [collection, subject, ids, faces.map((f) => vectorText(f.embedding)), faces.map((f) => (f.crop ? Buffer.from(f.crop) : null))]);
    if (rowCount !== faces.length) throw new NotFoundError(`no collection '${collection}'`);
    return ids;
  }

  async search(collection: string, queries: Float32Array[], topK: number, minScore: number): Promise<Match[][]> {
    const { id, dim } = await this.collection(collection);
    return Promise.all(queries.map((q) => this.searchOne(id, dim, q, topK, minScore)));
  }

  private async searchOne(cid: number, dim: number, q: Float32Array, topK: number, minScore: number): Promise<Match[]> {
    if (topK <= 0) return [];
    let candidates = topK * 8 + 32;
    for (;;) {
      // One simple-protocol message, so SET LOCAL holds for the query: HNSW returns at most
      // ef_search rows. The vector is written out (numbers only); the predicate must be the
      // index's own, with constants, for the planner to use the collection's partial index.
      const v = `'${vectorText(q)}'::vector(${dim})`;
      const results = await this.pool.query(`SET LOCAL hnsw.ef_search = ${Math.min(1000, Math.max(40, candidates))};
        SELECT t.id, s.name AS subject, 1 - t.distance AS score FROM (
          SELECT id, subject_id, embedding::vector(${dim}) <=> ${v} AS distance FROM faces
          WHERE ${rowsOf(cid, dim)} ORDER BY embedding::vector(${dim}) <=> ${v} LIMIT ${candidates}
        ) t JOIN subjects s ON s.id = t.subject_id ORDER BY t.distance`) as unknown as pg.QueryResult[];
      const rows = results[1].rows as { id: string; subject: string; score: number }[];
      const list: Match[] = [];
      const seen = new Set<string>();
      let below = false;
      for (const r of rows) {
        if (r.score < minScore) {
          below = true;
          break;
        }
        if (seen.has(r.subject)) continue;
        seen.add(r.subject);
        list.push({ faceId: r.id, subject: r.subject, score: r.score });
        if (list.length === topK) break;
      }
      if (list.length === topK || below || rows.length < candidates || candidates >= 1000) return list;
      candidates = Math.min(1000, candidates * 4);
    }
  }

  async listSubjects(collection: string, pageSize: number, cursor?: string): Promise<Page<SubjectSummary>> {
    const { id } = await this.collection(collection);
    const { rows } = await this.pool.query<{ name: string; face_count: string }>(`SELECT s.name,
      (SELECT count(*) FROM faces f WHERE f.subject_id = s.id) AS face_count FROM subjects s
      WHERE s.collection_id = $1 AND s.name COLLATE "C" > $2 ORDER BY s.name COLLATE "C" LIMIT $3`, [id, cursor ?? '', pageSize + 1]);
    const items = rows.slice(0, pageSize).map((r) => ({ name: r.name, faceCount: Number(r.face_count) }));
    return { items, next: rows.length > pageSize ? items[items.length - 1].name : undefined };
  }

  async getSubject(collection: string, subject: string, pageSize: number, cursor?: string): Promise<(SubjectSummary & Page<FaceRecord>) | undefined> {
    const { id } = await this.collection(collection);
    const found = await this.pool.query<{ id: string; face_count: string }>(`SELECT s.id,
      (SELECT count(*) FROM faces f WHERE f.subject_id = s.id) AS face_count FROM subjects s WHERE s.collection_id = $1 AND s.name = $2`, [id, subject]);
    const s = found.rows[0];
    if (!s) return undefined;
    // Face ids are UUIDv7: in byte order they are in creation order.
    const { rows } = await this.pool.query<{ id: string; crop: Buffer | null; created_at: Date }>(`SELECT id, crop, created_at FROM faces
      WHERE subject_id = $1 AND id COLLATE "C" > $2 ORDER BY id COLLATE "C" LIMIT $3`, [s.id, cursor ?? '', pageSize + 1]);
    const items = rows.slice(0, pageSize).map((r) => ({ id: r.id, subject, createdAt: r.created_at, crop: r.crop ? new Uint8Array(r.crop) : undefined }));
    return { name: subject, faceCount: Number(s.face_count), items, next: rows.length > pageSize ? items[items.length - 1].id : undefined };
  }

  async deleteSubject(collection: string, subject: string): Promise<number> {
    const { id } = await this.collection(collection);
    const { rows } = await this.pool.query<{ n: string }>(`WITH d AS (DELETE FROM subjects WHERE collection_id = $1 AND name = $2 RETURNING id)
      SELECT count(f.id) AS n FROM d LEFT JOIN faces f ON f.subject_id = d.id`, [id, subject]);
    return Number(rows[0]?.n ?? 0);
  }

  async deleteFace(collection: string, faceId: string): Promise<boolean> {
    const { id } = await this.collection(collection);
    // The subject row is locked before "has it other faces?" is asked, so an enrolment to the
    // same subject (which takes that row in its upsert) either commits first and is seen, or
    // waits: in one statement, the question would not see a concurrent enrolment's faces, and
    // the subject's deletion would cascade to them (found on PostgreSQL 15 by the store helper).
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      const { rows } = await client.query<{ subject_id: number }>(
        'SELECT subject_id FROM faces WHERE id = $1 AND collection_id = $2', [faceId, id]);
      if (!rows[0]) {
        await client.query('ROLLBACK');
        return false;
      }
      await client.query('SELECT id FROM subjects WHERE id = $1 FOR UPDATE', [rows[0].subject_id]);
      await client.query('DELETE FROM faces WHERE id = $1', [faceId]);
      await client.query('DELETE FROM subjects s WHERE s.id = $1 AND NOT EXISTS (SELECT 1 FROM faces f WHERE f.subject_id = s.id)',
        [rows[0].subject_id]);
      await client.query('COMMIT');
      return true;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
  }

  async getFace(collection: string, faceId: string): Promise<(FaceRecord & { embedding: Float32Array }) | undefined> {
    const { id } = await this.collection(collection);
    const { rows } = await this.pool.query<{ id: string; subject: string; embedding: string; crop: Buffer | null; created_at: Date }>(
      `SELECT f.id, s.name AS subject, f.embedding::text AS embedding, f.crop, f.created_at FROM faces f
       JOIN subjects s ON s.id = f.subject_id WHERE f.id = $1 AND f.collection_id = $2`, [faceId, id]);
    const f = rows[0];
    return f && { id: f.id, subject: f.subject, createdAt: f.created_at, crop: f.crop ? new Uint8Array(f.crop) : undefined, embedding: parseVector(f.embedding) };
  }

  async cropsForReembed(collection: string, batch: number, cursor?: string): Promise<Page<{ id: string; crop: Uint8Array }>> {
    const { id } = await this.collection(collection);
    const { rows } = await this.pool.query<{ id: string; crop: Buffer }>(`SELECT id, crop FROM faces
      WHERE collection_id = $1 AND crop IS NOT NULL AND id COLLATE "C" > $2 ORDER BY id COLLATE "C" LIMIT $3`, [id, cursor ?? '', batch]);
    return {
      items: rows.map((r) => ({ id: r.id, crop: new Uint8Array(r.crop) })),
      next: rows.length === batch ? rows[rows.length - 1].id : undefined,
    };
  }

  async stageEmbeddings(collection: string, vectors: { id: string; embedding: Float32Array }[]): Promise<void> {
    const { id } = await this.collection(collection);
    await this.pool.query(`UPDATE faces f SET staged = u.v::vector FROM unnest($1::text[], $2::text[]) AS u(id, v)
      WHERE f.id = u.id AND f.collection_id = $3`, [vectors.map((v) => v.id), vectors.map((v) => vectorText(v.embedding)), id]);
  }

  async commitReembed(collection: string, recognizer: RecognizerBinding): Promise<{ reembedded: number; removed: number }> {
    const { id, dim } = await this.collection(collection);
    const sha = recognizer.sha256.replace(/[^0-9a-f]/gi, '');
    const name = recognizer.name.replace(/'/g, "''");
    // One message, one implicit transaction: the swap and the rebinding. At the same size the
    // collection's index stays (it is updated row by row); at a new size it is rebuilt, dropped
    // first because it casts to the old size, and PostgreSQL holds the faces table for every
    // collection until the new index is built.
    const index = recognizer.dim === dim ? '' : `DROP INDEX IF EXISTS ${indexName(id)};`;
    const results = await this.pool.query(`${index}
      DELETE FROM faces WHERE collection_id = ${id} AND staged IS NULL;
      UPDATE faces SET embedding = staged, staged = NULL WHERE collection_id = ${id};
      DELETE FROM subjects s WHERE s.collection_id = ${id} AND NOT EXISTS (SELECT 1 FROM faces f WHERE f.subject_id = s.id);
      UPDATE collections SET recognizer_name = '${name}', recognizer_sha256 = '${sha}', dim = ${recognizer.dim} WHERE id = ${id};
      ${index ? `${createIndex(id, recognizer.dim)};` : ''}`) as unknown as pg.QueryResult[];
    const at = index ? 1 : 0;
    return { removed: results[at].rowCount ?? 0, reembedded: results[at + 1].rowCount ?? 0 };
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}
