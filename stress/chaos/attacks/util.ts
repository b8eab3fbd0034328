/** Small client helpers the attacks share: HTTP/1.1 and HTTP/2 calls that never throw. */
import http from 'node:http';
import http2 from 'node:http2';
import type { AttackContext } from '../types.js';
import { CHAOS_TIMEOUTS, CLOSE_SLACK_SECONDS } from '../server-env.js';
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

/** A socket whose incoming bytes and close are recorded (a socket nobody reads never sees the server's FIN). */
export interface Watched {
  socket: net.Socket;
  /** The first bytes the server sent (up to 4 KB). */
  head: string;
  closedAt?: number;
}

export function watch(socket: net.Socket): Watched {
  const w: Watched = { socket, head: '' };
  socket.on('data', (c: Buffer) => { if (w.head.length < 4096) w.head += c.toString('latin1'); });
  if (socket.destroyed || socket.closed) w.closedAt = Date.now();
  else socket.once('close', () => { w.closedAt = Date.now(); });
  socket.resume();
  return w;
}

/**
 * Waits until the server has closed every socket, or until `timeout` plus slack has passed
 * since `since` (when the clients stopped making progress), and expects all closed by then:
 * the server's own deadline at work. `answer`: what each must have been told first (408).
 */
export async function expectServerClosed(ctx: AttackContext, sockets: Watched[], timeout: keyof typeof CHAOS_TIMEOUTS,
  label: string, since: number, answer?: RegExp): Promise<void> {
  const limitMs = (CHAOS_TIMEOUTS[timeout] + CLOSE_SLACK_SECONDS) * 1000;
  const open = () => sockets.filter((w) => w.closedAt === undefined).length;
  while (open() > 0 && Date.now() < since + limitMs && ctx.left() > 0) await ctx.sleep(50);
  const closed = sockets.filter((w) => w.closedAt !== undefined);
  const slowest = Math.max(0, ...closed.map((w) => w.closedAt! - since)) / 1000;
  const told = answer ? closed.filter((w) => answer.test(w.head)).length : closed.length;
  ctx.note(`${label}: ${closed.length} of ${sockets.length} closed by the server, the last ${slowest.toFixed(1)} s after they stalled`
    + `${answer ? `; ${told} answered ${answer.source}` : ''}`);
  if (open() > 0 && Date.now() < since + limitMs) {
    ctx.expect(false, `${label}: the attack ran out of time before the ${limitMs / 1000} s it needs to judge`);
    return;
  }
  ctx.expect(closed.length === sockets.length,
    `${label}: the server closes them within ${limitMs / 1000} s (${timeout} ${CHAOS_TIMEOUTS[timeout]} s + slack); closed ${closed.length} of ${sockets.length}`);
  if (answer) {
    const other = closed.find((w) => !answer.test(w.head));
    ctx.expect(told === closed.length, `${label}: each is answered ${answer.source} before the close (${closed.length - told} not; one got ${JSON.stringify(other?.head.slice(0, 30))})`);
  }
}

/**
 * Runs `round` again and again until the attack's time is nearly up (the full round: a slow
 * client that reconnects whenever it is cut off), or once (the quick round).
 * `roundMs`: the time a round needs at most.
 */
export async function rounds(ctx: AttackContext, roundMs: number, round: (i: number) => Promise<void>): Promise<void> {
  let i = 0;
  do await round(i++);
  while (ctx.scale === 'full' && ctx.left() > roundMs);
  if (i > 1) ctx.note(`${i} rounds`);
}

/** Percentile `p` (0..1) of `values`, 0 when empty. */
export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] : 0;
}

/** Resolves once `stream` drains (true), or closes or `ms` pass (false); leaves no listener behind. */
export function drained(stream: NodeJS.EventEmitter, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const done = (ok: boolean) => {
      clearTimeout(timer);
      stream.off('drain', onDrain);
      stream.off('close', onClose);
      resolve(ok);
    };
    const onDrain = () => done(true);
    const onClose = () => done(false);
    const timer = setTimeout(() => done(false), Math.max(0, ms));
    stream.on('drain', onDrain);
    stream.on('close', onClose);
  });
}
