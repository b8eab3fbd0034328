/**
 * The deadlines of one HTTP/2 connection, checked from the listener's sweep:
 * - a session must open its first stream within headersMs, and is closed with GOAWAY after
 *   idleMs without any stream;
 * - a stream whose request body stops (no DATA for bodyMs), or whose unary request is not whole
 *   within requestMs, or whose response the client does not read for writeMs, is ended with
 *   RST_STREAM. A stream the client has half-closed (a Watch, a request sent whole) is never
 *   cut for silence, nor a client stream that is waiting for answers it is owed.
 */
import type { ServerHttp2Session } from 'node:http2';
import type { Logger } from 'pino';
import type { Deadlines, Exchange } from './exchange.js';

export class Http2Connection {
  private readonly openedAt = Date.now();
  private readonly exchanges = new Set<Exchange>();
  private everUsed = false;
  private idleSince = this.openedAt;
  constructor(readonly session: ServerHttp2Session, private readonly remote: string | undefined,
    private readonly t: Deadlines, private readonly log: Logger) {}

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
      exchange.reset();
    }
    if (this.exchanges.size > 0) return;
    const limit = this.everUsed ? this.t.idleMs : this.t.headersMs;
    if (now - this.idleSince > limit) {
      this.log.debug({ remote: this.remote, everUsed: this.everUsed }, 'http/2: idle session closed');
      this.shutdown();
    }
  }
}
