/**
 * One TCP port for HTTP/2 (gRPC, and Connect/gRPC-Web from HTTP/2 clients) and HTTP/1.1
 * (Connect, gRPC-Web, REST from browsers and curl). With TLS, ALPN picks the protocol. Without
 * it, Node's cleartext HTTP/2 server does not fall back to HTTP/1.1, so each connection is
 * routed by its first bytes: HTTP/2 with prior knowledge always opens with the
 * "PRI * HTTP/2.0" preface, which no HTTP/1 request can.
 */
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';

const STREAM_WINDOW = 4 << 20;
const CONNECTION_WINDOW = 32 << 20;

export type Handler = (
  req: http.IncomingMessage | http2.Http2ServerRequest,
  res: http.ServerResponse | http2.Http2ServerResponse,
) => void;

export interface Listener {
  port: number;
  /** Stops accepting connections and asks open ones to finish (HTTP/2 GOAWAY, HTTP/1 close). */
  stopAccepting(): void;
  /** Destroys whatever is still open. */
  destroy(): void;
}

export function listen(handler: Handler, port: number, host: string, tls?: { cert: Buffer; key: Buffer }): Promise<Listener> {
  const h1 = http.createServer(handler);
  // HTTP/2's default 64 KiB windows let one connection carry only a few photos per round trip:
  // under load, requests then queued in the client, unseen by admission control (measured:
  // 10 s latencies and no refusals at twice the capacity). Larger windows bring each request
  // to the server at once, where it is admitted or refused.
  const options = { settings: { initialWindowSize: STREAM_WINDOW } };
  const h2 = tls ? http2.createSecureServer({ ...tls, ...options, allowHTTP1: true }, handler) : http2.createServer(options, handler);
  const sockets = new Set<net.Socket>();
  const sessions = new Set<http2.Http2Session>();
  h2.on('session', (s) => {
    sessions.add(s);
    s.once('close', () => sessions.delete(s));
    s.once('localSettings', () => s.setLocalWindowSize(CONNECTION_WINDOW));
  });
  const tcp = tls ? h2 : net.createServer((socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.once('data', (first: Buffer) => {
      socket.pause();
      socket.unshift(first);
      if (first.subarray(0, 3).toString('latin1') === 'PRI') {
        // The HTTP/2 session reads what is buffered on the socket before its own handle.
        h2.emit('connection', socket);
      } else {
        h1.emit('connection', socket);
        socket.resume();
      }
    });
  });
  if (tls) {
    h2.on('secureConnection', (socket: net.Socket) => {
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
    });
  }
  return new Promise((resolve, reject) => {
    tcp.once('error', reject);
    tcp.listen(port, host, () => {
      tcp.off('error', reject);
      const address = tcp.address() as net.AddressInfo;
      resolve({
        port: address.port,
        stopAccepting() {
          tcp.close();
          for (const s of sessions) s.close();
          h1.closeIdleConnections();
        },
        destroy() {
          for (const s of sockets) s.destroy();
        },
      });
    });
  });
}
