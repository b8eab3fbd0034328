/** facerest.v1.FaceService handlers: thin, everything happens in the Extractor. */
import { create } from '@bufbuild/protobuf';
import type { ConnectRouter } from '@connectrpc/connect';
import {
  ExtractRequestSchema, ExtractResponseSchema, FaceService, InfoResponseSchema, ModelInfoSchema, ModelRole, type VerifyRequestSchema,
  type VerifyResponseSchema,
} from '../../gen/facerest/v1/face_service_pb.js';
import type { ModelDescription, ModelRoleName } from '../../models/inference/types.js';
import type { Engine } from '../engine.js';
import { ServiceError, toConnectError } from '../errors.js';
import type { DirectMethod } from './grpc-direct.js';
import { callOf, headerOf } from './interceptor.js';

const ROLES: Record<ModelRoleName, ModelRole> = {
  detector: ModelRole.DETECTOR,
  landmarks: ModelRole.LANDMARKS,
  recognizer: ModelRole.RECOGNIZER,
  attributes: ModelRole.ATTRIBUTES,
};

function modelInfo(m: ModelDescription) {
  return create(ModelInfoSchema, {
    role: ROLES[m.role],
    name: m.name,
    family: m.family,
    inputWidth: m.inputWidth,
    inputHeight: m.inputHeight,
    embeddingSize: m.embeddingSize,
    pack: m.pack,
    samePersonThreshold: m.samePersonThreshold,
  });
}

/** `engine()` gives the loaded engine, or undefined while the models are still loading. */
function readyEngine(engine: () => Engine | undefined): Engine {
  const e = engine();
  if (!e) throw new ServiceError('unavailable', 'the models are still loading; retry shortly');
  return e;
}

/** Extract, as Connect's route and the direct gRPC path (grpc-direct.ts) both run it. */
export function extractMethod(engine: () => Engine | undefined): DirectMethod<typeof ExtractRequestSchema, typeof ExtractResponseSchema> {
  return { method: FaceService.method.extract, serve: (req, call) => readyEngine(engine).extractor.extract(req, call) };
}

/** Verify is the gallery's (server/rpc/gallery-service.ts). */
export function faceServiceRoutes(engine: () => Engine | undefined, version: string,
  verify: DirectMethod<typeof VerifyRequestSchema, typeof VerifyResponseSchema>) {
  const ready = () => readyEngine(engine);
  const extract = extractMethod(engine);
  return (router: ConnectRouter) => router.service(FaceService, {
    extract: (req, context) => mapErrors(() => extract.serve(req, callOf(context), headerOf(context))),
    async *extractStream(requests, context) {
      yield* mapStreamErrors(ready().extractor.extractStream(requests, callOf(context)));
    },
    info: () => create(InfoResponseSchema, { version, models: ready().models.map(modelInfo) }),
    verify: (req, context) => verify.serve(req, callOf(context), headerOf(context)),
  });
}

async function mapErrors<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    throw toConnectError(err);
  }
}

async function* mapStreamErrors<T>(source: AsyncIterable<T>): AsyncIterable<T> {
  try {
    yield* source;
  } catch (err) {
    throw toConnectError(err);
  }
}
