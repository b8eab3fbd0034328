/**
 * The gallery's rules, over one GalleryStore and the Extractor: names, limits, key scopes, the
 * recognizer a collection is bound to, and what Enroll, Identify, Verify and Reembed do with
 * the faces the pipeline finds. The RPC handlers only translate messages.
 */
import { clone, create } from '@bufbuild/protobuf';
import {
  ExtractOptionsSchema, ExtractRequestSchema, ImageErrorCode, ImageSchema, ImageErrorSchema, type ExtractOptions, type Face, type FaceInput, type Image,
  type ImageError, type ImageResult,
} from '../../gen/facerest/v1/face_service_pb.js';
import type { LoadedRecognizer } from '../engine.js';
import { ServiceError } from '../errors.js';
import type { KeyScope } from '../http/auth.js';
import type { Call, Extractor } from '../pipeline/extract.js';
import { weakestPart } from '../pipeline/quality.js';
import { AlreadyExistsError, type CollectionRecord, type FaceRecord, type GalleryStore, type Match, type NewFace, type Page, type SubjectSummary } from './store.js';

export interface GalleryLimits {
  /** Collections in the gallery. */
  maxCollections: number;
  /** Faces in one collection. */
  maxFacesPerCollection: number;
  /** Subjects in one ListSubjects page. */
  maxPageSize: number;
}

/** The pipeline as the gallery needs it; undefined while the models load. */
export interface LoadedEngine {
  extractor: Extractor;
  recognizer: LoadedRecognizer;
}

const NAME = /^[A-Za-z0-9_.-]{1,128}$/;
const DEFAULT_PAGE_SIZE = 100;
const MAX_TOP_K = 100;
/** Stored aligned faces re-embedded per Extract call during Reembed. */
const REEMBED_BATCH = 32;

/** Refuses a collection or subject name that is empty, too long or has other characters. */
function checkName(what: string, name: string): void {
  if (!NAME.test(name)) {
    throw new ServiceError('invalid', `${what} name ${JSON.stringify(name.slice(0, 140))} is invalid: use 1 to 128 characters from A-Z a-z 0-9 _ . -`);
  }
}

const imageError = (code: ImageErrorCode, message: string): ImageError => create(ImageErrorSchema, { code, message });
const area = (f: Face) => (f.box ? (f.box.x2 - f.box.x1) * (f.box.y2 - f.box.y1) : 0);
const largest = (faces: Face[]) => faces.reduce((a, b) => (area(b) > area(a) ? b : a));

function unitVector(values: ArrayLike<number>, dim: number, what: string): Float32Array {
  if (values.length !== dim) throw new ServiceError('invalid', `${what} has ${values.length} values; the recognizer's embeddings have ${dim}`);
  const v = Float32Array.from(values);
  const n = Math.hypot(...v);
  if (!Number.isFinite(n) || n === 0) throw new ServiceError('invalid', `${what} is zero or not finite`);
  return v.map((x) => x / n);
}

/** A page cursor as an opaque token (base64url of the last name), and back. */
const pageToken = (cursor?: string) => (cursor === undefined ? '' : Buffer.from(cursor).toString('base64url'));
function cursorOf(token: string): string | undefined {
  if (!token) return undefined;
  const cursor = Buffer.from(token, 'base64url').toString();
  if (pageToken(cursor) !== token) throw new ServiceError('invalid', 'page_token is not one this server gave');
  return cursor;
}

export interface EnrollInput {
  collection: string;
  subject: string;
  images: Image[];
  embeddings: { values: number[] }[];
  options?: ExtractOptions;
  largestFace: boolean;
  /** Absent: the server's default. */
  minQuality?: number;
}

export interface EnrollOutcome {
  faceIds: string[];
  results: { faceId: string; error?: ImageError; face?: Face }[];
}

export interface IdentifyOutcome {
  threshold: number;
  results: { result: ImageResult; matches: Match[][] }[];
}

export interface VerifiedInput {
  embedding: Float32Array;
  face?: Face;
  faceId?: string;
  subject?: string;
}

export class Gallery {
  /** Collections being re-embedded by this process: their enrolment waits. */
  private readonly reembedding = new Set<string>();

  constructor(
    private readonly store: GalleryStore,
    private readonly engine: () => LoadedEngine | undefined,
    private readonly limits: GalleryLimits,
    /** Enroll's default minimum overall quality (EnrollRequest.min_quality overrides it). */
    private readonly enrollMinQuality = 0,
  ) {}

  private loaded(): LoadedEngine {
    const e = this.engine();
    if (!e) throw new ServiceError('unavailable', 'the models are still loading; retry shortly');
    return e;
  }

  private static allowed(scope: KeyScope, collection: string): void {
    if (scope.collections && !scope.collections.has(collection)) {
      throw new ServiceError('permission_denied', `this API key may not use collection '${collection}'`);
    }
  }

  /** The collection, checked: its name, the key's scope, and that it exists. */
  private async collection(name: string, scope: KeyScope): Promise<CollectionRecord> {
    checkName('collection', name);
    Gallery.allowed(scope, name);
    const c = await this.store.getCollection(name);
    if (!c) throw new ServiceError('not_found', `no collection '${name}'`);
    return c;
  }

  /** The collection, bound to the recognizer loaded now (its embeddings compare with ours). */
  private async usable(name: string, scope: KeyScope): Promise<{ c: CollectionRecord; engine: LoadedEngine }> {
    const c = await this.collection(name, scope);
    const engine = this.loaded();
    const have = engine.recognizer;
    const bound = c.recognizer;
    if (bound.sha256 !== have.sha256 || bound.dim !== have.dim) {
      throw new ServiceError('failed_precondition', `collection '${name}' holds embeddings of recognizer ${bound.name} `
        + `(sha256 ${bound.sha256.slice(0, 12)}, ${bound.dim} values) but ${have.name} (sha256 ${have.sha256.slice(0, 12)}, `
        + `${have.dim} values) is loaded: run Reembed on it (facerest reembed ${name}) or load ${bound.name}`);
    }
    return { c, engine };
  }

  async createCollection(name: string, keepCrops: boolean, scope: KeyScope): Promise<CollectionRecord> {
    checkName('collection', name);
    Gallery.allowed(scope, name);
    const { recognizer } = this.loaded();
    const count = (await this.store.listCollections()).length;
    if (count >= this.limits.maxCollections) {
      throw new ServiceError('limit', `the gallery has ${count} collections, the limit (FACEREST_MAX_COLLECTIONS=${this.limits.maxCollections})`);
    }
    try {
      return await this.store.createCollection({
        name, keepCrops, recognizer: { name: recognizer.name, sha256: recognizer.sha256, dim: recognizer.dim },
      });
    } catch (err) {
      if (err instanceof AlreadyExistsError) throw new ServiceError('already_exists', err.message);
      throw err;
    }
  }

  async listCollections(scope: KeyScope): Promise<CollectionRecord[]> {
    return (await this.store.listCollections()).filter((c) => !scope.collections || scope.collections.has(c.name));
  }

  getCollection(name: string, scope: KeyScope): Promise<CollectionRecord> {
    return this.collection(name, scope);
  }

  async deleteCollection(name: string, scope: KeyScope): Promise<void> {
    await this.collection(name, scope);
    if (!await this.store.deleteCollection(name)) throw new ServiceError('not_found', `no collection '${name}'`);
  }

  /** Detects faces in the images with the collection's needs added to the caller's options. */
  private async extract(engine: LoadedEngine, images: Image[], options: ExtractOptions | undefined, crops: boolean, call: Call) {
    const asked = options ? clone(ExtractOptionsSchema, options) : create(ExtractOptionsSchema);
    asked.returnAlignedFace ||= crops;
    const req = create(ExtractRequestSchema, { images, options: asked });
    return (await engine.extractor.extract(req, call)).results;
  }

  async enroll(input: EnrollInput, scope: KeyScope, call: Call): Promise<EnrollOutcome> {
    checkName('subject', input.subject);
    const { c, engine } = await this.usable(input.collection, scope);
    if (this.reembedding.has(c.name)) {
      throw new ServiceError('unavailable', `collection '${c.name}' is being re-embedded; enrol again when Reembed is done`);
    }
    if (input.images.length + input.embeddings.length === 0) throw new ServiceError('invalid', 'nothing to enrol: give images or embeddings');
    const given = input.embeddings.map((e, i) => unitVector(e.values, c.recognizer.dim, `embeddings[${i}]`));
    const room = this.limits.maxFacesPerCollection - c.faceCount;
    if (input.images.length + given.length > room) {
      throw new ServiceError('limit', `collection '${c.name}' has ${c.faceCount} faces; ${input.images.length + given.length} more would pass `
        + `the limit of ${this.limits.maxFacesPerCollection} (FACEREST_MAX_FACES_PER_COLLECTION)`);
    }
    const minQuality = input.minQuality ?? this.enrollMinQuality;
    if (!(minQuality >= 0 && minQuality <= 1)) throw new ServiceError('invalid', `min_quality must be from 0 to 1, got ${minQuality}`);
    const keepAligned = input.options?.returnAlignedFace ?? false;
    const results: EnrollOutcome['results'] = [];
    const faces: NewFace[] = [];
    const found = input.images.length ? await this.extract(engine, input.images, input.options, c.keepCrops, call) : [];
    for (const r of found) {
      if (r.error) results.push({ faceId: '', error: r.error });
      else if (r.faces.length === 0) results.push({ faceId: '', error: imageError(ImageErrorCode.NO_FACE, 'no face found in the image') });
      else if (r.faces.length > 1 && !input.largestFace) {
        results.push({ faceId: '', error: imageError(ImageErrorCode.MULTIPLE_FACES, `${r.faces.length} faces in the image: enrol one face per image, or set largest_face`) });
      } else if (largest(r.faces).quality!.overall < minQuality) {
        // Poor faces enrolled make every later match of the subject less certain.
        const q = largest(r.faces).quality!;
        results.push({ faceId: '', error: imageError(ImageErrorCode.LOW_QUALITY,
          `face quality ${q.overall.toFixed(2)} is under the minimum of ${+minQuality.toFixed(3)}: ${weakestPart(q)}`) });
      } else {
        const face = largest(r.faces);
        faces.push({ embedding: Float32Array.from(face.embedding), crop: c.keepCrops ? face.alignedFace : undefined });
        if (!keepAligned) face.alignedFace = new Uint8Array(0);
        results.push({ faceId: '', face });
      }
    }
    faces.push(...given.map((embedding) => ({ embedding })));
    const ids = faces.length ? await this.store.addFaces(c.name, input.subject, faces) : [];
    let next = 0;
    for (const r of results) if (r.face) r.faceId = ids[next++];
    return { faceIds: ids, results };
  }

  async identify(collection: string, images: Image[], topK: number, threshold: number | undefined, options: ExtractOptions | undefined,
    scope: KeyScope, call: Call): Promise<IdentifyOutcome> {
    const { c, engine } = await this.usable(collection, scope);
    if (topK > MAX_TOP_K) throw new ServiceError('invalid', `top_k ${topK} is over the maximum of ${MAX_TOP_K}`);
    const min = threshold ?? engine.recognizer.threshold;
    if (!(min >= -1 && min <= 1)) throw new ServiceError('invalid', `threshold must be from -1 to 1, got ${min}`);
    const found = await this.extract(engine, images, options, false, call);
    const queries = found.flatMap((r) => r.faces.map((f) => Float32Array.from(f.embedding)));
    const matches = queries.length ? await this.store.search(c.name, queries, topK || 1, min) : [];
    let next = 0;
    return { threshold: min, results: found.map((result) => ({ result, matches: result.faces.map(() => matches[next++]) })) };
  }

  /** One side of a Verify: an embedding, with the face it came from. */
  async verifyInput(which: string, input: FaceInput | undefined, options: ExtractOptions | undefined, scope: KeyScope, call: Call): Promise<VerifiedInput> {
    const engine = this.loaded();
    const dim = engine.recognizer.dim;
    const given = input?.input;
    switch (given?.case) {
      case 'embedding':
        return { embedding: unitVector(given.value.values, dim, `${which}.embedding`) };
      case 'faceId': {
        const { c } = await this.usable(input!.collection, scope);
        const face = await this.store.getFace(c.name, given.value);
        if (!face) throw new ServiceError('not_found', `${which}: no face '${given.value}' in collection '${c.name}'`);
        return { embedding: face.embedding, faceId: face.id, subject: face.subject };
      }
      case 'image': {
        const [r] = await this.extract(engine, [given.value], options, false, call);
        if (r.error) throw new ServiceError('invalid', `${which}.image: ${r.error.message}`);
        if (r.faces.length === 0) throw new ServiceError('invalid', `${which}.image: no face found in the image`);
        const face = largest(r.faces);
        return { embedding: Float32Array.from(face.embedding), face };
      }
      default:
        throw new ServiceError('invalid', `${which}: give an image, an embedding or a face_id`);
    }
  }

  threshold(asked: number | undefined): number {
    const t = asked ?? this.loaded().recognizer.threshold;
    if (!(t >= -1 && t <= 1)) throw new ServiceError('invalid', `threshold must be from -1 to 1, got ${t}`);
    return t;
  }

  async listSubjects(collection: string, pageSize: number, token: string, scope: KeyScope): Promise<Page<SubjectSummary>> {
    const c = await this.collection(collection, scope);
    const page = await this.store.listSubjects(c.name, this.pageSize(pageSize), cursorOf(token));
    return { items: page.items, next: page.next === undefined ? undefined : pageToken(page.next) };
  }

  /** The subject with its face count and one page of its faces, oldest first. */
  async getSubject(collection: string, subject: string, pageSize: number, token: string, scope: KeyScope): Promise<SubjectSummary & Page<FaceRecord>> {
    const c = await this.collection(collection, scope);
    checkName('subject', subject);
    const s = await this.store.getSubject(c.name, subject, this.pageSize(pageSize), cursorOf(token));
    if (!s) throw new ServiceError('not_found', `no subject '${subject}' in collection '${c.name}'`);
    return { ...s, next: s.next === undefined ? undefined : pageToken(s.next) };
  }

  private pageSize(asked: number): number {
    if (asked > this.limits.maxPageSize) {
      throw new ServiceError('limit', `page_size ${asked} is over the limit of ${this.limits.maxPageSize} (FACEREST_MAX_PAGE_SIZE)`);
    }
    return asked || DEFAULT_PAGE_SIZE;
  }

  async deleteSubject(collection: string, subject: string, scope: KeyScope): Promise<number> {
    const c = await this.collection(collection, scope);
    checkName('subject', subject);
    const n = await this.store.deleteSubject(c.name, subject);
    if (n === 0) throw new ServiceError('not_found', `no subject '${subject}' in collection '${c.name}'`);
    return n;
  }

  async deleteFace(collection: string, faceId: string, scope: KeyScope): Promise<void> {
    const c = await this.collection(collection, scope);
    if (!await this.store.deleteFace(c.name, faceId)) throw new ServiceError('not_found', `no face '${faceId.slice(0, 64)}' in collection '${c.name}'`);
  }

  /**
   * Re-embeds every stored aligned face with the loaded recognizer and rebinds the collection.
   * Enrolment to it (through this process) waits until the commit; identification goes on with
   * the old vectors meanwhile.
   */
  async reembed(collection: string, scope: KeyScope, call: Call): Promise<{ collection: CollectionRecord; reembedded: number; removed: number }> {
    const c = await this.collection(collection, scope);
    const engine = this.loaded();
    if (!c.keepCrops) {
      throw new ServiceError('failed_precondition', `collection '${c.name}' was created without aligned faces: it cannot be re-embedded`);
    }
    if (this.reembedding.has(c.name)) throw new ServiceError('unavailable', `collection '${c.name}' is already being re-embedded`);
    this.reembedding.add(c.name);
    try {
      let cursor: string | undefined;
      do {
        const page = await this.store.cropsForReembed(c.name, REEMBED_BATCH, cursor);
        const images = page.items.map((f) => create(ImageSchema, { data: f.crop }));
        const results = await this.extract(engine, images, create(ExtractOptionsSchema, { alignedInput: true }), false, call);
        const vectors = page.items.flatMap((f, i) => (results[i].faces[0]?.embedding.length
          ? [{ id: f.id, embedding: Float32Array.from(results[i].faces[0].embedding) }] : []));
        await this.store.stageEmbeddings(c.name, vectors);
        cursor = page.next;
      } while (cursor);
      const { recognizer } = engine;
      const done = await this.store.commitReembed(c.name, { name: recognizer.name, sha256: recognizer.sha256, dim: recognizer.dim });
      return { collection: (await this.store.getCollection(c.name))!, ...done };
    } finally {
      this.reembedding.delete(c.name);
    }
  }

  close(): Promise<void> {
    return this.store.close();
  }
}
