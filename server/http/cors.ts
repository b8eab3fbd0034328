/** CORS for browsers (Connect-web, gRPC-Web, fetch to /extract), origins from configuration. */
import { cors as connectCors } from '@connectrpc/connect';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2';

export type AllowedOrigins = '*' | string[];

const ALLOW_METHODS = [...new Set([...connectCors.allowedMethods, 'GET', 'POST', 'OPTIONS'])].join(', ');
const ALLOW_HEADERS = [...connectCors.allowedHeaders, 'Authorization', 'X-Api-Key', 'X-Request-Id'].join(', ');
const EXPOSE_HEADERS = [...connectCors.exposedHeaders, 'X-Request-Id', 'Retry-After'].join(', ');

/**
 * Adds CORS headers for an allowed origin. Returns true when the request was a preflight and
 * has been answered.
 */
export function applyCors(
  allowed: AllowedOrigins, req: IncomingMessage | Http2ServerRequest, res: ServerResponse | Http2ServerResponse,
): boolean {
  const origin = req.headers.origin;
  if (!origin) return false;
  const ok = allowed === '*' || allowed.includes(origin);
  res.setHeader('vary', 'Origin');
  if (ok) {
    res.setHeader('access-control-allow-origin', allowed === '*' ? '*' : origin);
    res.setHeader('access-control-expose-headers', EXPOSE_HEADERS);
  }
  if (req.method === 'OPTIONS' && req.headers['access-control-request-method']) {
    if (ok) {
      res.setHeader('access-control-allow-methods', ALLOW_METHODS);
      res.setHeader('access-control-allow-headers', ALLOW_HEADERS);
      res.setHeader('access-control-max-age', '7200');
    }
    res.writeHead(ok ? 204 : 403);
    res.end();
    return true;
  }
  return false;
}
