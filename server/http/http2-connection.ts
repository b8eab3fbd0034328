/**
 * The deadlines of one HTTP/2 connection, checked from the listener's sweep:
 * - a session must open its first stream within headersMs, and is closed with GOAWAY after
 *   idleMs without any stream;
 * - a stream whose request body stops (no DATA for bodyMs), or whose unary request is not whole
 *   within requestMs, or whose response the client does not read for writeMs, is ended with
 *   RST_STREAM. A stream the client has half-closed (a Watch, a request sent whole) is never
 *   cut for silence, nor a client stream that is waiting for answers it is owed.
 * - a client that resets many streams (HTTP/2 "rapid reset") must answer a PING: nghttp2 stops
 *   such a session after about 1,000 resets with GOAWAY, but Node neither closes its socket nor
 *   says so (measured: the connection stayed open, every later frame ignored), so a session that
 *   does not acknowledge the PING in time is destroyed.
 */
/** Client resets between two PING checks. */
const RESETS_PER_CHECK = 100;
import { constants, type ServerHttp2Session, type ServerHttp2Stream } from 'node:http2';
import type { Logger } from 'pino';
import type { Deadlines, Exchange } from './exchange.js';

export class Http2Connection {
  private readonly openedAt = Date.now();
  private readonly exchanges = new Set<Exchange>();
  private everUsed = false;
  private idleSince = this.openedAt;
  private readonly resetByServer = new WeakSet<ServerHttp2Stream>();
  private clientResets = 0;
  private checking = false;

  constructor(readonly session: ServerHttp2Session, private readonly remote: string | undefined,
    private readonly t: Deadlines, private readonly lingerMs: number, private readonly log: Logger) {
    session.on('stream', (stream: ServerHttp2Stream) => stream.once('close', () => {
      if (stream.rstCode === constants.NGHTTP2_CANCEL && !this.resetByServer.has(stream)) this.countClientReset();
    }));
  }

  add(exchange: Exchange): void {
    this.exchanges.add(exchange);
    this.everUsed = true;
    exchange.res.once('close', () => {
      this.exchanges.delete(exchange);
      if (this.exchanges.size === 0) this.idleSince = Date.now();
    });
  }

  /** GOAWAY: streams in progress finish, no new ones. */
  shutdown(): void {
    if (!this.session.closed && !this.session.destroyed) this.session.close();
  }

  sweep(now: number): void {
    if (this.session.closed || this.session.destroyed) return;
    for (const exchange of this.exchanges) {
      const verdict = exchange.check(now, this.t, true);
      if (verdict === 'ok') continue;
      this.log.debug({ remote: this.remote, reason: verdict, path: exchange.req.url }, 'http/2: stream reset');
      this.resetByServer.add((exchange.req as { stream: ServerHttp2Stream }).stream);
      exchange.reset();
    }
    if (this.exchanges.size > 0) return;
    const limit = this.everUsed ? this.t.idleMs : this.t.headersMs;
    if (now - this.idleSince > limit) {
      this.log.debug({ remote: this.remote, everUsed: this.everUsed }, 'http/2: idle session closed');
      this.shutdown();
    }
  }

  private countClientReset(): void {
    if (++this.clientResets % RESETS_PER_CHECK !== 0 || this.checking) return;
    if (this.session.closed || this.session.destroyed) return;
    this.checking = true;
    const fail = () => {
      if (this.session.destroyed) return;
      this.log.debug({ remote: this.remote, resets: this.clientResets }, 'http/2: session reset many streams and did not answer a PING; destroyed');
      this.session.destroy(undefined, constants.NGHTTP2_ENHANCE_YOUR_CALM);
    };
    const timer = setTimeout(fail, this.lingerMs);
    timer.unref();
    try {
      this.session.ping((err) => {
        clearTimeout(timer);
        this.checking = false;
        if (err) fail();
      });
    } catch {
      clearTimeout(timer);
      fail();
    }
  }
}
