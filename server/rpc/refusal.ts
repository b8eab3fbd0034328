/**
 * An RPC refused from its headers alone (before Connect sees it), answered in the protocol the
 * request speaks, as Connect itself would: gRPC and gRPC-Web "trailers-only" (HTTP 200, the
 * status in the one HEADERS frame, which ends the stream), Connect unary its JSON error with the
 * protocol's HTTP status, Connect streaming HTTP 200 and an end-of-stream message carrying the
 * error (the Connect protocol answers every stream with 200).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Http2ServerResponse, type Http2ServerRequest } from 'node:http2';
import { Code } from '@connectrpc/connect';
import { codeName, refusalHeaders, type ServiceError } from '../errors.js';
import { sendJson } from '../http/body.js';
import { CONNECT_END_STREAM, enveloped } from '../http/envelope.js';

/** The Connect protocol's HTTP status for the codes refusals use. */
const CONNECT_STATUS: Partial<Record<Code, number>> = {
  [Code.InvalidArgument]: 400,
  [Code.Unauthenticated]: 401,
  [Code.ResourceExhausted]: 429,
  [Code.Unavailable]: 503,
};

type Req = IncomingMessage | Http2ServerRequest;
type Res = ServerResponse | Http2ServerResponse;

export function sendRpcRefusal(req: Req, res: Res, err: ServiceError): void {
  const type = (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
  const extra = refusalHeaders(err);
  const code = err.answer.code;
  if (type.startsWith('application/grpc')) {
    return respond(res, 200, {
      'content-type': type, ...extra, 'grpc-status': String(code), 'grpc-message': encodeURIComponent(err.message),
    });
  }
  const error = { code: codeName(code), message: err.message };
  if (type.startsWith('application/connect+')) {
    const metadata = Object.fromEntries(Object.entries(extra).map(([k, v]) => [k, [v]]));
    return respond(res, 200, { 'content-type': type, ...extra }, enveloped(Buffer.from(JSON.stringify({ error, metadata })), CONNECT_END_STREAM));
  }
  const status = CONNECT_STATUS[code] ?? 500;
  if (res instanceof Http2ServerResponse) {
    return respond(res, status, { 'content-type': 'application/json', ...extra }, Buffer.from(JSON.stringify(error)));
  }
  for (const [name, value] of Object.entries(extra)) res.setHeader(name, value);
  sendJson(res, status, error);
}

function respond(res: Res, status: number, headers: Record<string, string>, body?: Buffer): void {
  if (res instanceof Http2ServerResponse) {
    const { stream } = res;
    // END_STREAM on the HEADERS frame when there is no body: a gRPC trailers-only answer.
    stream.respond({ ':status': status, ...headers, ...(body ? { 'content-length': String(body.length) } : {}) }, { endStream: !body });
    if (body) stream.end(body);
  } else {
    res.writeHead(status, body ? { ...headers, 'content-length': body.length } : { ...headers, 'content-length': 0 });
    res.end(body);
  }
}
