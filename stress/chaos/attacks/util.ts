/** Small client helpers the attacks share: HTTP/1.1 and HTTP/2 calls that never throw. */
import http from 'node:http';
import http2 from 'node:http2';
import type { AttackContext } from '../types.js';
import { CHAOS_TIMEOUTS, CLOSE_SLACK_SECONDS } from '../server-env.js';
import { closedWithin } from '../wire.js';
import type net from 'node:net';

export interface HttpAnswer {
  status?: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  /** Set when no complete answer came: the socket error (EPIPE, ECONNRESET) or 'timeout'. */
  error?: string;
  ms: number;
}

export interface H1Options {
  method?: string;
  path: string;
  headers?: Record<string, string>;
  body?: Uint8Array | string;
  /** Give up after this many ms (default: until the attack's deadline). */
  timeoutMs?: number;
  /** Send the body but never end the request (a body that never ends: set content-length). */
  keepOpen?: boolean;
}

/** One HTTP/1.1 request on its own connection. */
export function h1(ctx: AttackContext, o: H1Options): Promise<HttpAnswer> {
  const start = performance.now();
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let status: number | undefined;
    let headers: http.IncomingHttpHeaders = {};
    let done = false;
    const onAbort = () => finish('aborted');
    const finish = (error?: string) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      ctx.signal.removeEventListener('abort', onAbort);
      req.destroy();
      resolve({ status, headers, body: Buffer.concat(chunks), error, ms: performance.now() - start });
    };
    const req = http.request({
      host: '127.0.0.1', port: ctx.port, method: o.method ?? 'POST', path: o.path, headers: o.headers, agent: false,
    }, (res) => {
      status = res.statusCode;
      headers = res.headers;
      res.on('data', (c: Buffer) => { if (chunks.length < 1000) chunks.push(c); });
      res.on('end', () => finish());
      res.on('error', (e) => finish((e as NodeJS.ErrnoException).code ?? e.message));
    });
    req.on('error', (e) => finish((e as NodeJS.ErrnoException).code ?? e.message));
    const timer = setTimeout(() => finish('timeout'), o.timeoutMs ?? Math.max(1, ctx.left()));
    ctx.signal.addEventListener('abort', onAbort, { once: true });
    if (o.keepOpen) req.write(o.body ?? '');
    else req.end(o.body);
  });
}

export interface H2Answer {
  headers: http2.IncomingHttpHeaders;
  trailers: http2.IncomingHttpHeaders;
  body: Buffer;
  error?: string;
  ms: number;
}

/** grpc-status from a trailers-only answer or the trailers. */
export const grpcStatus = (a: H2Answer) => a.trailers['grpc-status'] ?? a.headers['grpc-status'];

export interface H2Options {
  path: string;
  headers: Record<string, string>;
  body?: Uint8Array;
  /** Leave the request body open (a body that never ends). */
  keepOpen?: boolean;
  timeoutMs?: number;
}

/** A session to the server; tracked, so the attack's end closes it. */
export function h2session(ctx: AttackContext, settings: http2.Settings = {}): http2.ClientHttp2Session {
  const session = http2.connect(ctx.baseUrl, { settings, maxSessionMemory: 1024 });
  session.on('error', () => undefined);
  return ctx.track(session);
}

/** One HTTP/2 request on `session`; resolves with what came back (never throws). */
export function h2(ctx: AttackContext, session: http2.ClientHttp2Session, o: H2Options): Promise<H2Answer> {
  const start = performance.now();
  return new Promise((resolve) => {
    let headers: http2.IncomingHttpHeaders = {};
    let trailers: http2.IncomingHttpHeaders = {};
    const chunks: Buffer[] = [];
    let done = false;
    let stream: http2.ClientHttp2Stream | undefined;
    const onAbort = () => finish('aborted');
    const finish = (error?: string) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      ctx.signal.removeEventListener('abort', onAbort);
      stream?.close();
      resolve({ headers, trailers, body: Buffer.concat(chunks), error, ms: performance.now() - start });
    };
    const timer = setTimeout(() => finish('timeout'), o.timeoutMs ?? Math.max(1, ctx.left()));
    ctx.signal.addEventListener('abort', onAbort, { once: true });
    try {
      stream = session.request({ ':method': 'POST', ':path': o.path, ...o.headers }, { endStream: false });
    } catch (err) {
      return finish((err as Error).message);
    }
    stream.on('response', (h) => {
      headers = h;
      // A trailers-only answer (an error before any message) ends here for an open request body.
      if (o.keepOpen && h['grpc-status'] !== undefined) finish();
    });
    stream.on('trailers', (t) => { trailers = t; });
    stream.on('data', (c: Buffer) => { if (chunks.length < 1000) chunks.push(c); });
    stream.on('end', () => finish());
    stream.on('close', () => finish(stream!.rstCode ? `RST_STREAM ${stream!.rstCode}` : undefined));
    stream.on('error', (e) => finish((e as NodeJS.ErrnoException).code ?? e.message));
    if (o.body) stream.write(o.body);
    if (!o.keepOpen) stream.end();
  });
}

/** Runs `fn` for i = 0..n-1, at most `width` at a time, stopping early when the attack is aborted. */
export async function pool(ctx: AttackContext, n: number, width: number, fn: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(width, n) }, async () => {
    while (next < n && !ctx.signal.aborted) await fn(next++);
  }));
}

/**
 * After `heldSeconds` of stalling, checks that the server closed these sockets, when the
 * configured timeout plus slack fits in the time held; otherwise only notes the count.
 */
export async function expectServerClosed(ctx: AttackContext, sockets: net.Socket[], timeout: keyof typeof CHAOS_TIMEOUTS,
  label: string, heldSince: number): Promise<void> {
  const limit = CHAOS_TIMEOUTS[timeout] + CLOSE_SLACK_SECONDS;
  const waitMs = heldSince + limit * 1000 - Date.now();
  const closed = (await Promise.all(sockets.map((s) => closedWithin(s, Math.max(0, Math.min(waitMs, ctx.left()))))))
    .filter(Boolean).length;
  const held = (Date.now() - heldSince) / 1000;
  ctx.note(`${label}: ${closed} of ${sockets.length} closed by the server after ${held.toFixed(1)} s`);
  if (held >= limit) ctx.expect(closed === sockets.length, `${label}: the server closes them within ${limit} s (${timeout} ${CHAOS_TIMEOUTS[timeout]} s + slack); closed ${closed} of ${sockets.length}`);
}

/** The full round keeps a slow-client attack going to its deadline, with the good clients beside it; the quick round stops once it has judged. */
export async function holdOn(ctx: AttackContext): Promise<void> {
  if (ctx.scale === 'full') await ctx.sleep(ctx.left() - 500);
}
