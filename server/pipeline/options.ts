/**
 * Per-request options (InsightFace-REST names), read the same way from ExtractRequest and
 * ExtractStreamRequest (they share the field names) and validated once.
 */
import { ServiceError } from '../errors.js';

export const DEFAULT_MAX_SIZE = 640;

export interface ExtractOptions {
  /** Larger side cap in pixels; 0 = never resize. */
  maxSize: number;
  /** Detection score threshold; undefined = the detector family's default. */
  threshold?: number;
  /** Keep the N largest faces; 0 = all. */
  limitFaces: number;
  /** Minimum larger box side in original-image pixels; 0 = none. */
  minFaceSize: number;
  returnFaceData: boolean;
  extractEmbedding: boolean;
  embedOnly: boolean;
  extractGa: boolean;
}

/** The option fields as the generated messages carry them. */
export interface OptionFields {
  maxSize?: number;
  threshold?: number;
  limitFaces?: number;
  minFaceSize?: number;
  returnFaceData?: boolean;
  extractEmbedding?: boolean;
  embedOnly?: boolean;
  extractGa?: boolean;
}


export function optionsOf(req: OptionFields): ExtractOptions {
  const { threshold } = req;
  if (threshold !== undefined && !(threshold >= 0 && threshold <= 1)) {
    throw new ServiceError('invalid', `threshold must be a number from 0 to 1, got ${threshold}`);
  }
  return {
    maxSize: req.maxSize ?? DEFAULT_MAX_SIZE,
    threshold,
    limitFaces: req.limitFaces ?? 0,
    minFaceSize: req.minFaceSize ?? 0,
    returnFaceData: req.returnFaceData ?? false,
    extractEmbedding: req.extractEmbedding ?? true,
    embedOnly: req.embedOnly ?? false,
    extractGa: req.extractGa ?? false,
  };
}
