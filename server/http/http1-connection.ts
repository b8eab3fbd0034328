/**
 * The deadlines of one HTTP/1.1 connection. Node enforces headersTimeout and requestTimeout only
 * for servers it listen()s itself (the check starts on 'listening'); this server is fed
 * connections after the protocol sniff, so nothing fired and a half-sent header held a
 * connection forever. These checks run from the listener's sweep instead:
 * - a request head must be complete within headersMs of the connection opening, or of its
 *   first byte on a kept-alive connection (408);
 * - a body must keep moving (bodyMs) and a unary request arrive whole within requestMs (408);
 * - a body answered early is drained up to the body limit, then the connection closes;
 * - output the client does not read for writeMs is dropped with the connection;
 * - a kept-alive connection with no new request for idleMs is closed. Node's keepAliveTimeout
 *   (set to the same time) only sends the Keep-Alive hint that clients time their reuse by: its
 *   own timer fires in the timers phase, before a request that came while the event loop was
 *   held up has been read, and resetting that connection fails the request (ECONNRESET after a
 *   4 s stall, test/deadlines-after-a-stall). The sweep looks after the next poll (listener.ts).
 */
import type net from 'node:net';
import type { Logger } from 'pino';
import { closeGracefully, isClosing, rawHttpResponse } from './closing.js';
import { WriteWatch, type Deadlines, type Exchange } from './exchange.js';

const REQUEST_TIMEOUT = rawHttpResponse(408);

export class Http1Connection {
  private requests = 0;
  private current?: Exchange;
  private bytesAtIdle = 0;
  private idleSince = 0;
  private headStartedAt?: number;
  private closeWhenIdle = false;
  private readonly writes = new WriteWatch();

  /** `openedAt`: when the connection was accepted (the protocol sniff counts against the head's time). */
  constructor(readonly socket: net.Socket, private readonly openedAt: number, private readonly t: Deadlines,
    private readonly lingerMs: number, private readonly log: Logger) {}

  /** A request head arrived (the handler runs next). */
  begin(exchange: Exchange): void {
    this.requests++;
    this.current = exchange;
    this.headStartedAt = undefined;
    exchange.onSettled(() => {
      if (this.current !== exchange) return;
      this.current = undefined;
      this.bytesAtIdle = this.socket.bytesRead;
      this.idleSince = Date.now();
      if (this.closeWhenIdle) this.close();
    });
  }

  /** Shutdown: close now if idle, else once the request in progress is answered. */
  shutdown(): void {
    this.closeWhenIdle = true;
    if (!this.current) this.close();
  }

  sweep(now: number): void {
    if (isClosing(this.socket)) return;
    if (this.writes.stalled(now, this.socket.writableLength, this.t.writeMs)) {
      this.log.debug({ remote: this.socket.remoteAddress }, 'http/1.1: response not read; connection dropped');
      this.socket.destroy();
      return;
    }
    const exchange = this.current;
    if (exchange) {
      const verdict = exchange.check(now, this.t, false);
      if (verdict !== 'ok') this.timeOut(verdict, !exchange.responseStarted);
      return;
    }
    if (this.requests === 0) {
      if (now - this.openedAt > this.t.headersMs) this.timeOut('headers', this.socket.bytesRead > 0);
      return;
    }
    // Kept alive: bytes since the last answer are the next head, which then has headersMs.
    if (this.socket.bytesRead > this.bytesAtIdle) {
      this.headStartedAt ??= now;
      if (now - this.headStartedAt > this.t.headersMs) this.timeOut('headers', true);
    } else if (now - this.idleSince > this.t.idleMs) {
      this.log.debug({ remote: this.socket.remoteAddress }, 'http/1.1: idle connection closed');
      this.close();
    }
  }

  private timeOut(reason: string, answer: boolean): void {
    this.log.debug({ remote: this.socket.remoteAddress, reason }, 'http/1.1: connection timed out');
    closeGracefully(this.socket, this.lingerMs, answer ? REQUEST_TIMEOUT : undefined);
  }

  private close(): void {
    closeGracefully(this.socket, this.lingerMs);
  }
}
