/**
 * What parsing a request may cost, derived from the configured limits: a request of N images
 * needs about 2N fields or values plus a few options, so the budgets below are generous for
 * every real client and still stop a body of millions of tiny entries at its first kilobytes.
 */
import type { DescMessage } from '@bufbuild/protobuf';
import { ExtractRequestSchema } from '../../gen/facerest/v1/face_service_pb.js';
import type { Limits } from '../config.js';
import { ServiceError } from '../errors.js';
import type { JsonBudget } from './json-scan.js';
import type { WireBudget } from './wire-scan.js';

/** Options, their values, lists like max_size: far more than any request carries. */
const SLACK = 1024;
const MAX_DEPTH = 32;
/** Fields of a message other than ExtractRequest (ExtractStreamRequest has 10, the others 0 or 1). */
const SMALL_MESSAGE_FIELDS = 64;

/** The same words on every path: the count stops at max + 1, so the answer cannot say how many. */
export const tooManyImages = (max: number) => () =>
  new ServiceError('limit', `more than ${max} images in one request, over the limit of ${max}`);

export function wireBudget(input: DescMessage, limits: Limits): WireBudget {
  if (input.typeName !== ExtractRequestSchema.typeName) return { maxFields: SMALL_MESSAGE_FIELDS };
  return { maxFields: 4 * limits.maxImages + SLACK, counted: { fieldNo: 1, max: limits.maxImages, tooMany: tooManyImages(limits.maxImages) } };
}

/** `imagesPath`: where the list of images is (['images'] in Connect JSON, ['images', 'data'] on POST /extract). */
export function jsonBudget(limits: Limits, imagesPath?: readonly string[]): JsonBudget {
  if (!imagesPath) return { maxDepth: MAX_DEPTH, maxValues: SLACK };
  return {
    maxDepth: MAX_DEPTH,
    maxValues: 4 * limits.maxImages + SLACK,
    counted: { path: imagesPath, max: limits.maxImages, tooMany: tooManyImages(limits.maxImages) },
  };
}
