/**
 * Refusals decided from a request's headers alone, before any byte of its body is read: no API
 * key, a declared body over the limit (and Admission.refusal() for a full queue). The legacy route
 * and the RPC adapter both ask them, and answer each in their own protocol.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { ServiceError } from '../errors.js';
import { UNAUTHENTICATED_MESSAGE, type ApiKeys } from './auth.js';

export function missingKey(keys: ApiKeys, headers: IncomingHttpHeaders): ServiceError | undefined {
  if (keys.allows(headers.authorization, headers['x-api-key'])) return undefined;
  return new ServiceError('unauthenticated', UNAUTHENTICATED_MESSAGE);
}

export function declaredTooLarge(headers: IncomingHttpHeaders, limit: number): ServiceError | undefined {
  const declared = Number(headers['content-length']);
  if (!(declared > limit)) return undefined;
  return new ServiceError('limit', `request body of ${declared} bytes exceeds the limit of ${limit} bytes`);
}

export const bodyTooLarge = (limit: number) => new ServiceError('limit', `request body exceeds the limit of ${limit} bytes`);

