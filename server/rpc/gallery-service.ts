/** facerest.v1.GalleryService handlers and FaceService.Verify: thin, the rules live in server/gallery/service.ts. */
import { create } from '@bufbuild/protobuf';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import type { ConnectRouter, HandlerContext } from '@connectrpc/connect';
import {
  FaceService, VerifiedFaceSchema, VerifyResponseSchema, type VerifyRequestSchema,
} from '../../gen/facerest/v1/face_service_pb.js';
import {
  CollectionSchema, EnrolledFaceSchema, EnrollResponseSchema, GalleryService, IdentifiedFaceSchema, IdentifyResponseSchema, IdentifyResultSchema,
  MatchSchema, type Collection, type EnrollRequestSchema, type IdentifyRequestSchema,
} from '../../gen/facerest/v1/gallery_service_pb.js';
import { ServiceError, toConnectError } from '../errors.js';
import type { ApiKeys, KeyScope } from '../http/auth.js';
import { NotFoundError, type CollectionRecord } from '../gallery/store.js';
import type { Gallery, VerifiedInput } from '../gallery/service.js';
import { toNumbers } from '../pipeline/extract.js';
import type { DirectMethod, HeaderOf } from './grpc-direct.js';
import { callOf, headerOf } from './interceptor.js';

function collectionMessage(c: CollectionRecord): Collection {
  return create(CollectionSchema, {
    name: c.name,
    recognizer: { name: c.recognizer.name, sha256: c.recognizer.sha256, embeddingSize: c.recognizer.dim },
    keepsAlignedFaces: c.keepCrops,
    subjectCount: c.subjectCount,
    faceCount: c.faceCount,
    createTime: timestampFromDate(c.createdAt),
  });
}

/** Gallery calls need a gallery; without one (none configured) they say so. */
type GalleryOf = () => Gallery;

async function answer<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    // A collection deleted between the service's check and the store's work.
    throw toConnectError(err instanceof NotFoundError ? new ServiceError('not_found', err.message) : err);
  }
}

/** The caller's key's scope; requests without a valid key were refused before (adapter.ts). */
const scopeOf = (keys: ApiKeys, header: HeaderOf): KeyScope => keys.scope(header('authorization'), header('x-api-key')) ?? {};

/** Enroll, as Connect's route and the direct gRPC path (grpc-direct.ts) both run it. */
export function enrollMethod(gallery: GalleryOf, keys: ApiKeys): DirectMethod<typeof EnrollRequestSchema, typeof EnrollResponseSchema> {
  return {
    method: GalleryService.method.enroll,
    serve: (req, call, header) => answer(async () => {
      const out = await gallery().enroll({
        collection: req.collection, subject: req.subject, images: req.images, embeddings: req.embeddings,
        options: req.options, largestFace: req.largestFace, minQuality: req.minQuality,
      }, scopeOf(keys, header), call);
      return create(EnrollResponseSchema, { faceIds: out.faceIds, results: out.results });
    }),
  };
}

/** Identify, as Connect's route and the direct gRPC path (grpc-direct.ts) both run it. */
export function identifyMethod(gallery: GalleryOf, keys: ApiKeys): DirectMethod<typeof IdentifyRequestSchema, typeof IdentifyResponseSchema> {
  return {
    method: GalleryService.method.identify,
    serve: (req, call, header) => answer(async () => {
      const out = await gallery().identify(req.collection, req.images, req.topK, req.threshold, req.options, scopeOf(keys, header), call);
      return create(IdentifyResponseSchema, {
        threshold: out.threshold,
        results: out.results.map(({ result, matches }) => create(IdentifyResultSchema, {
          width: result.width,
          height: result.height,
          error: result.error,
          faces: result.faces.map((face, i) => create(IdentifiedFaceSchema, {
            face,
            matches: matches[i].map((m) => create(MatchSchema, { subject: m.subject, faceId: m.faceId, score: m.score })),
          })),
        })),
      });
    }),
  };
}

export function galleryRoutes(gallery: GalleryOf, keys: ApiKeys) {
  const scope = (context: HandlerContext) => scopeOf(keys, headerOf(context));
  const enroll = enrollMethod(gallery, keys);
  const identify = identifyMethod(gallery, keys);
  return (router: ConnectRouter) => router.service(GalleryService, {
    createCollection: (req, ctx) => answer(async () => ({
      collection: collectionMessage(await gallery().createCollection(req.name, !req.withoutAlignedFaces, scope(ctx))),
    })),
    listCollections: (_req, ctx) => answer(async () => ({
      collections: (await gallery().listCollections(scope(ctx))).map(collectionMessage),
    })),
    getCollection: (req, ctx) => answer(async () => ({
      collection: collectionMessage(await gallery().getCollection(req.name, scope(ctx))),
    })),
    deleteCollection: (req, ctx) => answer(async () => {
      await gallery().deleteCollection(req.name, scope(ctx));
      return {};
    }),
    enroll: (req, ctx) => enroll.serve(req, callOf(ctx), headerOf(ctx)),
    identify: (req, ctx) => identify.serve(req, callOf(ctx), headerOf(ctx)),
    listSubjects: (req, ctx) => answer(async () => {
      const page = await gallery().listSubjects(req.collection, req.pageSize, req.pageToken, scope(ctx));
      return { subjects: page.items, nextPageToken: page.next ?? '' };
    }),
    getSubject: (req, ctx) => answer(async () => {
      const s = await gallery().getSubject(req.collection, req.subject, req.pageSize, req.pageToken, scope(ctx));
      return {
        subject: { name: s.name, faceCount: s.faceCount },
        faces: s.items.map((f) => create(EnrolledFaceSchema, { faceId: f.id, createTime: timestampFromDate(f.createdAt), alignedFace: f.crop })),
        nextPageToken: s.next ?? '',
      };
    }),
    deleteSubject: (req, ctx) => answer(async () => ({
      deletedFaces: await gallery().deleteSubject(req.collection, req.subject, scope(ctx)),
    })),
    deleteFace: (req, ctx) => answer(async () => {
      await gallery().deleteFace(req.collection, req.faceId, scope(ctx));
      return {};
    }),
    reembed: (req, ctx) => answer(async () => {
      const out = await gallery().reembed(req.collection, scope(ctx), callOf(ctx));
      return { collection: collectionMessage(out.collection), reembeddedFaces: out.reembedded, removedFaces: out.removed };
    }),
  });
}

function verified(v: VerifiedInput) {
  return create(VerifiedFaceSchema, { face: v.face ?? { embedding: toNumbers(v.embedding) }, faceId: v.faceId ?? '', subject: v.subject ?? '' });
}

/** FaceService.Verify, as Connect's route and the direct gRPC path (grpc-direct.ts) both run it. */
export function verifyMethod(gallery: GalleryOf, keys: ApiKeys): DirectMethod<typeof VerifyRequestSchema, typeof VerifyResponseSchema> {
  return {
    method: FaceService.method.verify,
    serve: (req, call, header) => answer(async () => {
      const scope = scopeOf(keys, header);
      const g = gallery();
      const threshold = g.threshold(req.threshold);
      const [a, b] = await Promise.all([
        g.verifyInput('a', req.a, req.options, scope, call),
        g.verifyInput('b', req.b, req.options, scope, call),
      ]);
      if (a.embedding.length !== b.embedding.length) {
        throw new ServiceError('invalid', `a has ${a.embedding.length} values and b ${b.embedding.length}: they come from different recognizers`);
      }
      const score = a.embedding.reduce((s, x, i) => s + x * b.embedding[i], 0);
      return create(VerifyResponseSchema, { score, same: score >= threshold, threshold, a: verified(a), b: verified(b) });
    }),
  };
}
