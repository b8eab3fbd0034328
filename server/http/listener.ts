/**
 * One TCP port for HTTP/2 (gRPC, and Connect/gRPC-Web from HTTP/2 clients) and HTTP/1.1
 * (Connect, gRPC-Web, REST from browsers and curl). With TLS, ALPN picks the protocol. Without
 * it, Node's cleartext HTTP/2 server does not fall back to HTTP/1.1, so each connection is
 * routed by its first bytes (sniff.ts).
 *
 * This is also where hostile and clumsy clients are met: every socket, session and stream has
 * an 'error' listener (a reset before the first byte used to kill the process); connections
 * beyond the cap are answered at once (503 / GOAWAY) and closed, and so are requests beyond the
 * server-wide cap (503 / REFUSED_STREAM); a sweep enforces the header,
 * body, idle and write deadlines of every connection (http1-connection.ts,
 * http2-connection.ts); request bodies held in memory are bounded server-wide (BodyBudget).
 */
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import tls from 'node:tls';
import type { Logger } from 'pino';
import type { NetworkLimits } from '../config.js';
import { RETRY_AFTER_SECONDS } from '../errors.js';
import { BodyBudget } from './body-budget.js';
import { closeGracefully, http2Refusal, isClosing, rawHttpResponse } from './closing.js';
import { Exchange, type Deadlines } from './exchange.js';
import { Http1Connection } from './http1-connection.js';
import { Http2Connection } from './http2-connection.js';
import { sniff, type Sniffed } from './sniff.js';

const STREAM_WINDOW = 4 << 20;
const CONNECTION_WINDOW = 32 << 20;
/** How long a closing connection may keep sending before it is cut (closing.ts). */
const MAX_LINGER_MS = 2000;
/** Warnings about refusals, at most this often (an attack must not flood the logs). */
const WARN_EVERY_MS = 10_000;

export type Handler = (
  req: http.IncomingMessage | http2.Http2ServerRequest,
  res: http.ServerResponse | http2.Http2ServerResponse,
) => void;

/** A handler behind the router, given the request's id (the caller's own, or a new one). */
export type Route = (req: Parameters<Handler>[0], res: Parameters<Handler>[1], reqId: string) => void;

export interface Listener {
  port: number;
  /** Stops accepting connections and asks open ones to finish (HTTP/2 GOAWAY, HTTP/1 close). */
  stopAccepting(): void;
  /**
   * Waits up to `graceMs` for connections to finish what they were sending (an HTTP/2 session
   * closes itself once its last stream's trailers are out), then destroys whatever is still open.
   */
  close(graceMs: number): Promise<void>;
}

export interface ListenOptions {
  port: number;
  host: string;
  tls?: { cert: Buffer; key: Buffer };
  limits: NetworkLimits;
  /** The request body limit: bodies answered early are drained up to this much. */
  maxBodyBytes: number;
  /** Request paths of client-streaming calls (their bodies last as long as the call). */
  streamingPaths: ReadonlySet<string>;
  log: Logger;
  /** A request was refused because request bodies fill the budget. */
  onOverloaded?: () => void;
}

function deadlines(l: NetworkLimits): Deadlines {
  return {
    headersMs: l.headersTimeoutSeconds * 1000,
    idleMs: l.idleTimeoutSeconds * 1000,
    bodyMs: l.bodyTimeoutSeconds * 1000,
    requestMs: l.requestTimeoutSeconds * 1000,
    writeMs: l.writeTimeoutSeconds * 1000,
  };
}

/** Node's own answers to malformed HTTP/1.1 (it gives none once 'clientError' has a listener). */
const CLIENT_ERROR_STATUS: Record<string, number> = {
  HPE_HEADER_OVERFLOW: 431,
  HPE_CHUNK_EXTENSIONS_OVERFLOW: 413,
  ERR_HTTP_REQUEST_TIMEOUT: 408,
};

/** Logs at most once per WARN_EVERY_MS, with how many were left out. */
function throttledWarn(log: Logger, message: string): (fields: Record<string, unknown>) => void {
  let last = 0;
  let skipped = 0;
  return (fields) => {
    const now = Date.now();
    if (now - last < WARN_EVERY_MS) {
      skipped++;
      return;
    }
    log.warn({ ...fields, alsoSince: skipped }, message);
    last = now;
    skipped = 0;
  };
}

/**
 * Refuses a request before any handler sees it: HTTP/2 with RST_STREAM(REFUSED_STREAM), which
 * tells the client nothing was processed and a retry is safe; HTTP/1.1 with 503 and Retry-After.
 */
function refuseRequest(req: Parameters<Handler>[0], res: Parameters<Handler>[1], message: string): void {
  req.on('error', () => undefined);
  if ('stream' in req) {
    req.stream.on('error', () => undefined);
    req.stream.close(http2.constants.NGHTTP2_REFUSED_STREAM);
    return;
  }
  const body = JSON.stringify({ error: message });
  res.writeHead(503, {
    'content-type': 'application/json', 'content-length': Buffer.byteLength(body),
    'retry-after': String(RETRY_AFTER_SECONDS), connection: 'close',
  });
  res.end(body);
}

export function listen(handler: Handler, o: ListenOptions): Promise<Listener> {
  const { limits, log } = o;
  const t = deadlines(limits);
  const lingerMs = Math.min(MAX_LINGER_MS, t.headersMs);
  const budget = new BodyBudget(limits.bodyBudgetBytes);
  const sockets = new Set<net.Socket>();
  const connections = new Set<Http1Connection | Http2Connection>();
  const http1Of = new WeakMap<net.Socket, Http1Connection>();
  const http2Of = new WeakMap<http2.Http2Session, Http2Connection>();
  const warnCap = throttledWarn(log, 'connection refused: too many connections');
  const warnBudget = throttledWarn(log, 'request refused: request bodies fill the budget');
  const onOverloaded = () => {
    o.onOverloaded?.();
    warnBudget({ heldBytes: budget.held, limitBytes: budget.limit });
  };

  let requests = 0;
  const warnRequests = throttledWarn(log, 'request refused: too many requests in progress');
  const onRequest: Handler = (req, res) => {
    if (requests >= limits.maxRequests) {
      o.onOverloaded?.();
      warnRequests({ inProgress: requests, limit: limits.maxRequests });
      refuseRequest(req, res, `too many requests in progress (limit ${limits.maxRequests}); retry shortly`);
      return;
    }
    requests++;
    res.once('close', () => requests--);
    const path = (req.url ?? '').split('?')[0];
    const exchange = new Exchange(req, res, { budget, maxBodyBytes: o.maxBodyBytes, streaming: o.streamingPaths.has(path), onOverloaded });
    if ('stream' in req) {
      const session = req.stream.session;
      if (session) http2Of.get(session)?.add(exchange);
    } else {
      http1Of.get(req.socket)?.begin(exchange);
    }
    handler(req, res);
  };

  const h1 = http.createServer(onRequest);
  h1.keepAliveTimeout = t.idleMs;
  // With a listener, Node leaves a kept-alive connection whose time is up to it: the sweep
  // closes idle ones (http1-connection.ts says why). Nothing else emits 'timeout' here (the
  // server's socket timeout, `h1.timeout`, stays 0).
  h1.on('timeout', () => undefined);
  h1.on('clientError', (err: NodeJS.ErrnoException, socket: net.Socket) => {
    if (isClosing(socket)) return;
    const status = err.code ? CLIENT_ERROR_STATUS[err.code] ?? (err.code.startsWith('HPE_') ? 400 : undefined) : undefined;
    log.debug({ err: err.message, code: err.code }, 'http/1.1: client error');
    if (status === undefined || !socket.writable) {
      socket.destroy();
      return;
    }
    closeGracefully(socket, lingerMs, rawHttpResponse(status));
  });

  // HTTP/2's default 64 KiB windows let one connection carry only a few photos per round trip:
  // under load, requests then queued in the client, unseen by admission control (measured:
  // 10 s latencies and no refusals at twice the capacity). Larger windows bring each request
  // to the server at once, where it is admitted or refused.
  const h2 = http2.createServer({
    settings: { initialWindowSize: STREAM_WINDOW, maxConcurrentStreams: limits.maxStreamsPerConnection },
  }, onRequest);
  h2.on('sessionError', (err: Error) => log.debug({ err: err.message }, 'http/2: session error'));
  // The socket handed to the HTTP/2 server right now: Node emits 'session' synchronously, and
  // a session's own `socket` is a proxy that throws once the session lets go of it.
  let routing: net.Socket | undefined;
  h2.on('session', (session: http2.ServerHttp2Session) => {
    session.on('error', () => undefined);
    session.once('localSettings', () => session.setLocalWindowSize(CONNECTION_WINDOW));
    const socket = routing;
    const connection = new Http2Connection(session, socket?.remoteAddress, t, lingerMs, log);
    connections.add(connection);
    http2Of.set(session, connection);
    session.once('close', () => {
      connections.delete(connection);
      // After GOAWAY Node ends its side; a peer that never closes its own is cut.
      if (socket && !socket.destroyed) setTimeout(() => socket.destroy(), lingerMs).unref();
    });
  });

  /** Routes a connection whose protocol is known, or answers it when over the cap. */
  const route = (socket: net.Socket, protocol: Sniffed, acceptedAt = Date.now()) => {
    if (socket.destroyed) return;
    if (protocol === 'none') {
      socket.destroy();
      return;
    }
    if (sockets.size > limits.maxConnections) {
      warnCap({ open: sockets.size, limit: limits.maxConnections });
      const message = `too many connections (limit ${limits.maxConnections}); retry shortly`;
      const answer = protocol === 'http2'
        ? http2Refusal(message)
        : rawHttpResponse(503, { 'Retry-After': String(RETRY_AFTER_SECONDS), 'Content-Type': 'application/json' }, JSON.stringify({ error: message }));
      closeGracefully(socket, lingerMs, answer, true);
      return;
    }
    if (protocol === 'http2') {
      routing = socket;
      h2.emit('connection', socket);
      routing = undefined;
      return;
    }
    const connection = new Http1Connection(socket, acceptedAt, t, lingerMs, log);
    connections.add(connection);
    http1Of.set(socket, connection);
    socket.once('close', () => connections.delete(connection));
    // Node ends a `Connection: close` response with destroySoon(), which resets a client still
    // uploading the body it was refused; linger instead.
    socket.destroySoon = () => closeGracefully(socket, lingerMs);
    h1.emit('connection', socket);
    socket.resume();
  };

  const onTcp = (socket: net.Socket) => {
    socket.on('error', (err: Error) => log.debug({ err: err.message }, 'connection error'));
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    // Beyond twice the cap even answering costs too much: file descriptors run out.
    if (sockets.size > 2 * limits.maxConnections) {
      socket.destroy();
      return;
    }
    const acceptedAt = Date.now();
    if (!o.tls) void sniff(socket, t.headersMs).then((protocol) => route(socket, protocol, acceptedAt));
  };

  let tcp: net.Server;
  if (o.tls) {
    const secure = tls.createServer({ ...o.tls, ALPNProtocols: ['h2', 'http/1.1'], handshakeTimeout: t.headersMs });
    secure.on('tlsClientError', (err: Error, socket: tls.TLSSocket) => {
      log.debug({ err: err.message }, 'tls: handshake failed');
      socket.destroy();
    });
    secure.on('secureConnection', (socket: tls.TLSSocket) => {
      socket.on('error', (err: Error) => log.debug({ err: err.message }, 'tls connection error'));
      route(socket, socket.alpnProtocol === 'h2' ? 'http2' : 'http1');
    });
    tcp = secure;
  } else {
    tcp = net.createServer();
  }
  tcp.on('connection', onTcp);

  const sweep = () => {
    const now = Date.now();
    for (const connection of connections) connection.sweep(now);
  };
  // A quarter of the shortest deadline, so each fires within 25 % of its time. The sweep itself
  // runs in the check phase, right after a poll: when the event loop has been held up (a long
  // parse, a collection), the timers phase comes first, before the bytes clients sent meanwhile
  // are read, and would blame them for the server's own delay (test/deadlines-after-a-stall:
  // after a 4 s stall, 408 to an upload that never stopped, and a new connection whose head
  // had come reset).
  const period = Math.max(100, Math.min(1000, Math.min(t.headersMs, t.bodyMs, t.writeMs) / 4));
  const sweeper = setInterval(() => setImmediate(sweep), period);
  sweeper.unref();

  return new Promise((resolve, reject) => {
    tcp.once('error', reject);
    tcp.listen(o.port, o.host, () => {
      tcp.off('error', reject);
      tcp.on('error', (err: Error) => log.error({ err }, 'listening socket error'));
      const address = tcp.address() as net.AddressInfo;
      resolve({
        port: address.port,
        stopAccepting() {
          tcp.close();
          for (const connection of connections) connection.shutdown();
        },
        async close(graceMs) {
          clearInterval(sweeper);
          for (const connection of connections) connection.shutdown();
          const deadline = Date.now() + graceMs;
          while (sockets.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
          for (const s of sockets) s.destroy();
        },
      });
    });
  });
}
