/**
 * Refusals decided from a request's headers alone, before any byte of its body is read: no API
 * key, a declared body over the limit (and Admission.refusal() for a full queue). The legacy route
 * and the RPC adapter both ask them, and answer each in their own protocol.
 */
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { constants, Http2ServerResponse, type Http2ServerRequest } from 'node:http2';
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

/**
 * After an answer sent before the request body was all read (a refusal): let the connection go
 * on. HTTP/2 asks the client to stop sending (RST_STREAM NO_ERROR after a complete response,
 * RFC 9113 section 8.1); HTTP/1.1 discards the rest, as Node does for a body nobody started to
 * read (once reading began, Node leaves it to us, and the next request on the connection hung).
 */
export function releaseUnreadBody(req: IncomingMessage | Http2ServerRequest, res: ServerResponse | Http2ServerResponse): void {
  if (req.complete) return;
  if (res instanceof Http2ServerResponse) res.stream.close(constants.NGHTTP2_NO_ERROR);
  else req.resume();
}
