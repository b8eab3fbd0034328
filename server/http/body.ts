import { ConnectError } from '@connectrpc/connect';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2';
import { refusalHeaders, ServiceError } from '../errors.js';

/** An error answered with this HTTP status and a JSON {"error": message} body (and `headers`). */
export class HttpError extends Error {
  constructor(readonly status: number, message: string, readonly headers: Record<string, string> = {}) {
    super(message);
  }

  /** A refusal of the service (errors.ts) as the HTTP answer it stands for. */
  static from(err: ServiceError): HttpError {
    return new HttpError(err.answer.http, err.message, refusalHeaders(err));
  }
}

/**
 * The whole body as text, or an HttpError: 413 over `limit`, 429 when request bodies already
 * fill the server's budget (the network layer refuses the body, exchange.ts). On a refusal the
 * body is not read any further, and the request is not destroyed: the network layer drains the
 * rest once the answer is sent, so the client reads its answer instead of a reset.
 */
export function readBody(req: IncomingMessage | Http2ServerRequest, limit: number): Promise<string> {
  const declared = Number(req.headers['content-length']);
  if (declared > limit) {
    return Promise.reject(new HttpError(413, `request body of ${declared} bytes exceeds the limit of ${limit} bytes`));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const stop = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) {
        chunks.push(chunk);
        return;
      }
      stop();
      chunks.length = 0;
      reject(new HttpError(413, `request body exceeds the limit of ${limit} bytes`));
    };
    const onEnd = () => {
      stop();
      resolve(Buffer.concat(chunks, size).toString('utf8'));
    };
    const onError = (err: Error) => {
      stop();
      const refusal = err instanceof ConnectError && err.cause instanceof ServiceError ? err.cause : undefined;
      reject(refusal ? HttpError.from(refusal) : err);
    };
    req.on('data', onData);
    req.once('end', onEnd);
    req.once('error', onError);
  });
}

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
export function sendRefusal(res: ServerResponse | Http2ServerResponse, err: ServiceError | HttpError): void {
  const answer = err instanceof ServiceError ? HttpError.from(err) : err;
  for (const [name, value] of Object.entries(answer.headers)) res.setHeader(name, value);
  sendJson(res, answer.status, { error: answer.message });
}
