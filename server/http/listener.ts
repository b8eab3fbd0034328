/**
 * One TCP port for HTTP/2 without TLS (gRPC, and Connect/gRPC-Web from HTTP/2 clients) and
 * HTTP/1.1 (Connect, gRPC-Web, REST from browsers and curl). Node's cleartext HTTP/2 server
 * does not fall back to HTTP/1.1, so each connection is routed by its first bytes: HTTP/2 with
 * prior knowledge always opens with the "PRI * HTTP/2.0" preface, which no HTTP/1 request can.
 */
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';

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

export function listen(handler: Handler, port: number, host: string): Promise<Listener> {
  const h1 = http.createServer(handler);
  const h2 = http2.createServer({}, handler);
  const sockets = new Set<net.Socket>();
  const sessions = new Set<http2.Http2Session>();
  h2.on('session', (s) => {
    sessions.add(s);
    s.once('close', () => sessions.delete(s));
  });
  const tcp = net.createServer((socket) => {
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
