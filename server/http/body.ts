import type { ServerResponse } from 'node:http';
import type { Http2ServerResponse } from 'node:http2';
import { refusalHeaders, type ServiceError } from '../errors.js';

export function sendJson(res: ServerResponse | Http2ServerResponse, status: number, body: unknown): void {
  const payload = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) });
  res.end(payload);
}

/**
 * Answers a refusal as JSON {"error": message} with its status and headers (Retry-After where
 * the kind has a retry hint). Safe at any point of the request, before its body is read or
 * half-way: the network layer (exchange.ts) drains the rest of the body on HTTP/1.1, or stops
 * the upload with RST_STREAM(NO_ERROR) on HTTP/2, once this answer is out.
 */
export function sendRefusal(res: ServerResponse | Http2ServerResponse, err: ServiceError): void {
  for (const [name, value] of Object.entries(refusalHeaders(err))) res.setHeader(name, value);
  sendJson(res, err.answer.http, { error: err.message });
}
