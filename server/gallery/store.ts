/**
 * The gallery's storage interface: one contract, two backends (embedded SQLite + in-memory
 * index; PostgreSQL + pgvector). The service above it validates names, checks limits and keys,
 * and turns "not found" answers into NOT_FOUND; a store only stores and searches. Every write is
 * durable when its promise resolves, and a write of several faces is all or nothing.
 *
 * Embeddings handed to a store are unit vectors of the collection's dimension, so cosine
 * similarity is the dot product.
 */
import { randomBytes } from 'node:crypto';

/** The recognizer a collection's embeddings were made with. */
export interface RecognizerBinding {
  /** Model file name as Info reports it (e.g. w600k_mbf.onnx). */
  name: string;
  /** sha256 of the model file, hex. */
  sha256: string;
  /** Embedding dimension. */
  dim: number;
}

export interface CollectionRecord {
  name: string;
  recognizer: RecognizerBinding;
  /** Whether enrolled faces keep their aligned 112x112 crop (needed by Reembed). */
  keepCrops: boolean;
  createdAt: Date;
  subjectCount: number;
  faceCount: number;
}

export interface NewFace {
  embedding: Float32Array;
  /** Aligned 112x112 face, JPEG; absent when the collection keeps no crops or the face came as an embedding. */
  crop?: Uint8Array;
}

export interface FaceRecord {
  id: string;
  subject: string;
  createdAt: Date;
  /** The aligned face (JPEG), when stored. */
  crop?: Uint8Array;
}

export interface SubjectSummary {
  name: string;
  faceCount: number;
}

export interface Match {
  faceId: string;
  subject: string;
  /** Cosine similarity. */
  score: number;
}

export interface Page<T> {
  items: T[];
  /** Opaque cursor for the next page; absent on the last page. */
  next?: string;
}

export interface GalleryStore {
  /** Backend name for logs and Info ('embedded' | 'postgres'). */
  readonly backend: string;

  /** Refused with AlreadyExistsError when the name is taken. */
  createCollection(c: { name: string; recognizer: RecognizerBinding; keepCrops: boolean }): Promise<CollectionRecord>;
  listCollections(): Promise<CollectionRecord[]>;
  getCollection(name: string): Promise<CollectionRecord | undefined>;
  /** False when there was no such collection. Deletes its subjects and faces. */
  deleteCollection(name: string): Promise<boolean>;

  /** Adds faces to a subject (created on first use), atomically; answers their new ids in order. */
  addFaces(collection: string, subject: string, faces: NewFace[]): Promise<string[]>;
  /**
   * For each query, up to `topK` subjects with a face scoring >= `minScore`, each by its best
   * face, best first. Exact, or with recall@10 >= 0.99 (bench:gallery measures it).
   */
  search(collection: string, queries: Float32Array[], topK: number, minScore: number): Promise<Match[][]>;

  /** Subjects by name order, `pageSize` at most, after the cursor. */
  listSubjects(collection: string, pageSize: number, cursor?: string): Promise<Page<SubjectSummary>>;
  /**
   * A subject with its face count and a page of its faces, oldest first (face ids are
   * time-ordered), `pageSize` at most, after the cursor; undefined when unknown.
   */
  getSubject(collection: string, subject: string, pageSize: number, cursor?: string): Promise<(SubjectSummary & Page<FaceRecord>) | undefined>;
  /** Faces removed; 0 when the subject was unknown. */
  deleteSubject(collection: string, subject: string): Promise<number>;
  /** False when unknown. A subject left without faces is removed with its last face. */
  deleteFace(collection: string, faceId: string): Promise<boolean>;
  /** One face with its embedding (Verify by face_id); undefined when unknown. */
  getFace(collection: string, faceId: string): Promise<(FaceRecord & { embedding: Float32Array }) | undefined>;

  /**
   * Reembed, step 1: the faces with crops, `batch` at a time after the cursor (face id order).
   * Step 2: `stageEmbeddings` keeps new vectors beside the live ones (search still uses the old).
   * Step 3: `commitReembed` swaps every staged vector in and rebinds the collection, in one
   * transaction; faces without a staged vector are removed (they had no crop). The service holds
   * enrolment to the collection while this runs.
   */
  cropsForReembed(collection: string, batch: number, cursor?: string): Promise<Page<{ id: string; crop: Uint8Array }>>;
  stageEmbeddings(collection: string, vectors: { id: string; embedding: Float32Array }[]): Promise<void>;
  commitReembed(collection: string, recognizer: RecognizerBinding): Promise<{ reembedded: number; removed: number }>;

  close(): Promise<void>;
}

export class AlreadyExistsError extends Error {}

/** The collection named is gone (deleted meanwhile, perhaps by another replica). */
export class NotFoundError extends Error {}

/**
 * A new face id: a UUID of version 7 (RFC 9562), whose first 48 bits are the time in
 * milliseconds. Ids made later sort later, so the stores' indexes on them grow at the end
 * instead of at random places (with random version 4 ids, a million-face enrolment was down to
 * about 1,000 faces/s by 160,000 faces; with these, about 2,200/s at 130,000, on the same shared
 * machine).
 */
export function newFaceId(): string {
  const bytes = randomBytes(16);
  const ms = Date.now();
  bytes.writeUIntBE(ms, 0, 6);
  bytes[6] = 0x70 | (bytes[6] & 0x0f);
  bytes[8] = 0x80 | (bytes[8] & 0x3f);
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
