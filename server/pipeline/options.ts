/**
 * The one place where the contract's ExtractOptions are validated and turned into what an image
 * needs: the size to decode it at, and the worker's FaceQuery. The RPCs pass the message as it
 * came; the legacy route maps its InsightFace-REST keys onto the same message first.
 */
import type { ExtractOptions } from '../../gen/facerest/v1/face_service_pb.js';
import { ServiceError } from '../errors.js';
import type { FaceQuery } from '../worker/faces.js';

export const DEFAULT_MAX_SIZE = 640;

/** What the server adds to every query, whatever the options say. */
export interface ServerCaps {
  /** Faces per image, the most probable first; 0 = no cap. */
  maxFaces: number;
  /** Worker time per image in milliseconds; 0 = none. */
  budgetMs: number;
  /** Whether an age or gender model is loaded. */
  hasAttributes: boolean;
}

/** What each image of a request needs, from the request's options. */
export interface ImagePlan {
  /** Larger side cap for decoding; 0 = never resize. */
  maxSize: number;
  /** The images are aligned faces: decoded straight to the aligned size, no detection. */
  alignedInput: boolean;
  /** Faces whose overall quality is under this are dropped; 0 = none. */
  minQuality: number;
  /** The worker's query for an image decoded at `scale` decoded pixels per original pixel. */
  query(scale: number): FaceQuery;
}

/** The names of the options that can be refused, as the caller spells them. */
export interface OptionNames {
  detectionThreshold: string;
  returnAgeGender: string;
  minQuality: string;
}

const V1_NAMES: OptionNames = { detectionThreshold: 'detection_threshold', returnAgeGender: 'return_age_gender', minQuality: 'min_quality' };

/** Throws an 'invalid' ServiceError naming the option (in the caller's own spelling). */
export function planImages(o: ExtractOptions | undefined, caps: ServerCaps, names: OptionNames = V1_NAMES): ImagePlan {
  const threshold = o?.detectionThreshold;
  if (threshold !== undefined && !(threshold >= 0 && threshold <= 1)) {
    throw new ServiceError('invalid', `"${names.detectionThreshold}" must be a number from 0 to 1, got ${threshold}`);
  }
  const minQuality = o?.minQuality ?? 0;
  if (!(minQuality >= 0 && minQuality <= 1)) {
    throw new ServiceError('invalid', `"${names.minQuality}" must be a number from 0 to 1, got ${minQuality}`);
  }
  const ageGender = o?.returnAgeGender ?? false;
  if (ageGender && !caps.hasAttributes) {
    throw new ServiceError('invalid', `"${names.returnAgeGender}": no age/gender model is loaded`);
  }
  const alignedInput = o?.alignedInput ?? false;
  return {
    maxSize: o?.maxSize ?? DEFAULT_MAX_SIZE,
    alignedInput,
    minQuality,
    query: (scale) => ({
      threshold,
      limitFaces: o?.keepLargestFaces ?? 0,
      minFaceSize: (o?.minFaceSizePx ?? 0) * scale,
      embed: !(o?.skipEmbedding ?? false),
      returnCrops: o?.returnAlignedFace ?? false,
      embedOnly: alignedInput,
      attributes: ageGender,
      maxFaces: caps.maxFaces,
      budgetMs: caps.budgetMs,
    }),
  };
}
