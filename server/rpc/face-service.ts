/** facerest.v1.FaceService handlers: thin, everything happens in the Extractor. */
import { create } from '@bufbuild/protobuf';
import type { ConnectRouter } from '@connectrpc/connect';
import {
  FaceService, InfoResponseSchema, ModelInfoSchema, ModelRole,
} from '../../gen/facerest/v1/face_service_pb.js';
import type { ModelDescription, ModelRoleName } from '../../models/types.js';
import type { Extractor } from '../pipeline/extract.js';

const ROLES: Record<ModelRoleName, ModelRole> = {
  detector: ModelRole.DETECTOR,
  landmarks: ModelRole.LANDMARKS,
  recognizer: ModelRole.RECOGNIZER,
};

export function faceServiceRoutes(extractor: Extractor, models: ModelDescription[], version: string) {
  const info = create(InfoResponseSchema, {
    version,
    models: models.map((m) => create(ModelInfoSchema, {
      role: ROLES[m.role],
      name: m.name,
      family: m.family,
      inputWidth: m.inputWidth,
      inputHeight: m.inputHeight,
      embeddingSize: m.embeddingSize,
      pack: m.pack,
    })),
  });
  return (router: ConnectRouter) => router.service(FaceService, {
    extract: (req) => extractor.extract(req),
    extractStream: (requests) => extractor.extractStream(requests),
    info: () => info,
  });
}
