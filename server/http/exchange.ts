/**
 * One request and its response, watched from the network side: body bytes as they arrive
 * (charged to the server-wide BodyBudget), when the body last moved, messages received and
 * answered on a client stream, and what happens to a body nobody reads any more.
 *
 * A handler may answer before it has read the body (a refusal), or stop reading half-way (a
 * body over the limit). Node then resets HTTP/1.1 connections mid-upload (destroying an
 * unfinished IncomingMessage destroys its socket), and the client sees EPIPE instead of the
 * answer. Here the rest of such a body is read and dropped instead, up to a bound, and the
 * connection stays usable; on HTTP/2 the stream is ended with RST_STREAM(NO_ERROR) once the
 * answer is out, which tells the client to stop sending (RFC 9113, 8.1).
 *
 * Node has no event for body bytes that does not also consume them, so the request's own
 * `push` (through which both Node servers deliver body chunks) is wrapped.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { constants, type Http2ServerRequest, type Http2ServerResponse } from 'node:http2';
import { refusalHeaders, ServiceError, toConnectError } from '../errors.js';
import type { BodyBudget } from './body-budget.js';
import { ENVELOPE_PREFIX, ENVELOPED_CONTENT_TYPE, EnvelopeScanner, isDataMessage } from './envelope.js';

export type Request = IncomingMessage | Http2ServerRequest;
export type Response = ServerResponse | Http2ServerResponse;

/**
 * Once the response has closed: whether the whole answer went out. On HTTP/2, whether the
 * stream closed without an error code: its writableFinished is also true once the client has
 * reset the stream, answered or not, and a gRPC refusal's trailers-only answer goes out on the
 * stream itself, so the response never reads as ended.
 */
export function answered(res: Response): boolean {
  return 'stream' in res ? res.stream.rstCode === constants.NGHTTP2_NO_ERROR : res.writableFinished;
}

export interface ExchangeContext {
  budget: BodyBudget;
  maxBodyBytes: number;
  /**
   * A client-streaming call: its body lasts as long as the call, is charged message by message
   * (released as each is answered), and may be quiet while the server owes answers.
   */
  streaming: boolean;
  /** A body was refused for lack of budget. */
  onOverloaded(): void;
}

export interface Deadlines {
  headersMs: number;
  idleMs: number;
  bodyMs: number;
  requestMs: number;
  writeMs: number;
}

export type Verdict = 'ok' | 'body-stalled' | 'request-timeout' | 'write-stalled' | 'drain-exceeded';

const MiB = (n: number) => Math.ceil(n / 2 ** 20);

/** Notices output that does not move: a peer that does not read what it asked for. */
export class WriteWatch {
  private pending = 0;
  private movedAt = Date.now();

  /** `pending`: bytes written and not yet taken by the peer (or the kernel). */
  stalled(now: number, pending: number, limitMs: number): boolean {
    if (pending === 0 || pending < this.pending) this.movedAt = now;
    this.pending = pending;
    return pending > 0 && now - this.movedAt > limitMs;
  }
}

export class Exchange {
  readonly startedAt = Date.now();
  lastBodyAt = this.startedAt;
  bodyBytes = 0;
  /** Bytes read and dropped after the handler gave up the body. */
  private dropped = 0;
  /** HTTP/1.1: the socket's bytesRead when last looked at (Node drains a dumped body without pushing it). */
  private socketRead = 0;
  private sawEnd = false;
  private dropping = false;
  private refused = false;
  private responded = false;
  private closed = false;
  /** Bytes reserved for a body (unary), or for the message being received (stream). */
  private charged = 0;
  /** Stream: reservations of messages received and not yet answered, oldest first. */
  private readonly held: number[] = [];
  private messagesIn = 0;
  private messagesOut = 0;
  /** Stream: when the last answer went out (the client's turn to send starts then). */
  private lastAnswerAt = 0;
  private readonly inbound?: EnvelopeScanner;
  private readonly writes = new WriteWatch();
  private readonly settledListeners: (() => void)[] = [];
  readonly http2: boolean;

  constructor(readonly req: Request, readonly res: Response, private readonly ctx: ExchangeContext) {
    this.http2 = 'stream' in req;
    // Node delivers an error it raises (and one this class raises) as an event.
    req.on('error', () => undefined);
    res.on('error', () => undefined);
    if (this.http2) (req as Http2ServerRequest).stream.on('error', () => undefined);
    if (ENVELOPED_CONTENT_TYPE.test(req.headers['content-type'] ?? '')) {
      this.inbound = new EnvelopeScanner(ctx.streaming
        ? { start: (size) => this.reserveMessage(size), end: (flags) => this.received(flags) }
        : { start: (_size, end) => this.cover(end) });
      if (ctx.streaming) this.countAnswers();
    }
    this.wrapPush();
    this.wrapDestroy();
    res.once('finish', () => this.onResponded());
    res.once('close', () => this.onClosed());
    // A declared length is reserved whole, so a body that cannot fit is refused before it is sent.
    const declared = Number(req.headers['content-length']);
    if (!ctx.streaming && Number.isSafeInteger(declared) && declared > 0 && declared <= ctx.maxBodyBytes) this.cover(declared);
  }

  /** Messages of a client stream received and not yet answered. */
  get owed(): number {
    return this.messagesIn - this.messagesOut;
  }

  /** The client has sent its whole body (HTTP/2: END_STREAM, read or not). */
  get bodyEnded(): boolean {
    if (this.sawEnd) return true;
    if (!this.http2) return (this.req as IncomingMessage).complete;
    const stream = (this.req as Http2ServerRequest).stream;
    return stream.destroyed || stream.endAfterHeaders || stream.state.remoteClose === 1;
  }

  /** Answered (or gone) and nothing more to read. */
  get settled(): boolean {
    return this.closed && this.bodyEnded;
  }

  get responseStarted(): boolean {
    return this.res.headersSent;
  }

  onSettled(listener: () => void): void {
    if (this.settled) listener();
    else this.settledListeners.push(listener);
  }

  /**
   * What the deadlines say now. `writes`: also watch this exchange's own output (HTTP/2; an
   * HTTP/1.1 connection watches its socket).
   */
  check(now: number, t: Deadlines, writes: boolean): Verdict {
    if (writes && !this.closed) {
      const stream = (this.req as Http2ServerRequest).stream;
      if (this.writes.stalled(now, stream.destroyed ? 0 : stream.writableLength, t.writeMs)) return 'write-stalled';
    }
    if (this.bodyEnded) return 'ok';
    if (this.dropping && !this.http2) this.countDrained(now);
    if (this.responded) {
      if (this.dropped > this.ctx.maxBodyBytes) return 'drain-exceeded';
    } else if (this.ctx.streaming && this.owed > 0) {
      // The client waits for answers; the server is the one that is slow.
      return 'ok';
    }
    if (now - Math.max(this.lastBodyAt, this.lastAnswerAt) > t.bodyMs) return 'body-stalled';
    if (!this.ctx.streaming && now - this.startedAt > t.requestMs) return 'request-timeout';
    return 'ok';
  }

  private countDrained(now: number): void {
    const read = this.req.socket.bytesRead;
    if (this.socketRead > 0 && read > this.socketRead) {
      this.dropped += read - this.socketRead;
      this.lastBodyAt = now;
    }
    this.socketRead = read;
  }

  /** HTTP/2: ends the stream with RST_STREAM (CANCEL: the server gave up on it). */
  reset(code = constants.NGHTTP2_CANCEL): void {
    const stream = (this.req as Http2ServerRequest).stream;
    if (!stream.destroyed && !stream.closed) stream.close(code);
  }

  private wrapPush(): void {
    const req = this.req;
    const push = req.push;
    req.push = (chunk: unknown, encoding?: BufferEncoding): boolean => {
      if (chunk === null) {
        this.sawEnd = true;
        if (this.closed) this.settle();
        return this.dropping && req.destroyed ? false : push.call(req, chunk, encoding);
      }
      // Returning true keeps Node reading, so a dropped body drains instead of stalling.
      if (!this.accept(chunk as Buffer)) return true;
      return push.call(req, chunk, encoding);
    };
  }

  /**
   * A handler that stops reading destroys the request (for-await's exit does). On HTTP/1.1 that
   * would reset the connection mid-upload; instead the rest is read and dropped.
   */
  private wrapDestroy(): void {
    const req = this.req;
    const destroy = req._destroy;
    req._destroy = (err: Error | null, callback: (error?: Error | null) => void): void => {
      if (!this.bodyEnded) this.drop();
      if (!this.http2 && !req.socket.destroyed) return callback(err);
      destroy.call(req, err, callback);
    };
  }

  /** False when the chunk must not reach the handler. */
  private accept(chunk: Buffer): boolean {
    this.bodyBytes += chunk.length;
    this.lastBodyAt = Date.now();
    if (this.dropping) {
      if (this.http2) this.dropped += chunk.length;
      return false;
    }
    if (this.inbound) this.inbound.feed(chunk);
    else this.cover(this.bodyBytes);
    return !this.refused;
  }

  /** Unary: the reservation covers the first `bytes` of the body (declared or received). */
  private cover(bytes: number): void {
    const want = Math.min(bytes, this.ctx.maxBodyBytes + ENVELOPE_PREFIX);
    if (this.refused || want <= this.charged) return;
    if (this.ctx.budget.tryReserve(want - this.charged)) this.charged = want;
    else this.refuse();
  }

  /** Stream: a message of `size` bytes begins; reserve all of it now, so a refusal comes before its bytes. */
  private reserveMessage(size: number): void {
    // A message over the limit is Connect's to refuse, with its own message.
    if (this.refused || size > this.ctx.maxBodyBytes) return;
    if (this.ctx.budget.tryReserve(size + ENVELOPE_PREFIX)) this.charged = size + ENVELOPE_PREFIX;
    else this.refuse();
  }

  private received(flags: number): void {
    if (!isDataMessage(flags)) return;
    this.messagesIn++;
    this.held.push(this.charged);
    this.charged = 0;
  }

  /** Stream: each answer written releases the oldest message still held. */
  private countAnswers(): void {
    const res = this.res as { write: (...args: unknown[]) => boolean };
    const write = res.write;
    const answers = new EnvelopeScanner({
      end: (flags) => {
        if (!isDataMessage(flags)) return;
        this.messagesOut++;
        this.lastAnswerAt = Date.now();
        this.ctx.budget.release(this.held.shift() ?? 0);
      },
    });
    res.write = (...args: unknown[]): boolean => {
      if (args[0] instanceof Uint8Array) answers.feed(args[0]);
      return write.apply(this.res, args);
    };
  }

  /**
   * The body does not fit the budget: the handler's next read fails with 'overloaded' (Connect
   * answers it in the call's protocol, the legacy route as 429), and the rest of the body is dropped.
   */
  private refuse(): void {
    this.refused = true;
    this.ctx.onOverloaded();
    const { budget } = this.ctx;
    const err = new ServiceError('overloaded',
      `server busy: ${MiB(budget.held)} MiB of request bodies in memory (limit ${MiB(budget.limit)} MiB); retry shortly`);
    // Whichever handler answers (Connect, or a route with its own JSON), the hint goes with it.
    if (!this.res.headersSent) for (const [name, value] of Object.entries(refusalHeaders(err))) this.res.setHeader(name, value);
    this.drop();
    this.req.destroy(toConnectError(err) as Error);
  }

  private drop(): void {
    if (this.dropping) return;
    this.dropping = true;
    if (this.http2) return;
    this.socketRead = this.req.socket.bytesRead;
    // HTTP/1.1 stops reading the socket when a push is refused; read on, to drain.
    this.req.socket.resume();
  }

  private onResponded(): void {
    this.responded = true;
    if (this.bodyEnded) return;
    if (this.http2) this.reset(constants.NGHTTP2_NO_ERROR);
    else this.drop();
  }

  private onClosed(): void {
    this.closed = true;
    this.ctx.budget.release(this.charged + this.held.reduce((a, b) => a + b, 0));
    this.charged = 0;
    this.held.length = 0;
    if (this.bodyEnded) this.settle();
  }

  private settle(): void {
    for (const listener of this.settledListeners.splice(0)) listener();
  }
}
