/**
 * Ending connections so that the client reads what it was told. Closing a socket while the
 * peer is still sending makes the kernel answer with a reset, and a client that is busy
 * uploading then sees EPIPE / ECONNRESET instead of the answer already sent to it. So a close
 * sends FIN after the last bytes, keeps reading (and dropping) what still arrives, and destroys
 * the socket when the peer closes too or a short linger ends.
 */
import { STATUS_CODES } from 'node:http';
import { constants } from 'node:http2';
import type net from 'node:net';

const lingering = new WeakSet<net.Socket>();

/** True once closeGracefully was called on the socket. */
export const isClosing = (socket: net.Socket): boolean => lingering.has(socket) || socket.destroyed;

/**
 * Sends `last` (if any) and FIN, then destroys the socket once the peer closes or after
 * `lingerMs`. `drop`: read and drop incoming bytes here (sockets no server reads from).
 */
export function closeGracefully(socket: net.Socket, lingerMs: number, last?: string | Buffer, drop = false): void {
  if (isClosing(socket)) return;
  lingering.add(socket);
  const timer = setTimeout(() => socket.destroy(), lingerMs);
  timer.unref();
  socket.once('close', () => clearTimeout(timer));
  socket.once('end', () => socket.destroy());
  if (drop) {
    socket.on('data', () => undefined);
    socket.resume();
  }
  if (!socket.writable) socket.destroy();
  else if (last === undefined) socket.end();
  else socket.end(last);
}

/** A whole HTTP/1.1 response that closes the connection, for answers given outside a request. */
export function rawHttpResponse(status: number, headers: Record<string, string> = {}, body = ''): string {
  const lines = [`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}`, 'Connection: close', `Content-Length: ${Buffer.byteLength(body)}`];
  for (const [name, value] of Object.entries(headers)) lines.push(`${name}: ${value}`);
  return `${lines.join('\r\n')}\r\n\r\n${body}`;
}

/**
 * The server's HTTP/2 preface (an empty SETTINGS frame) and a GOAWAY that names no stream as
 * processed: the client may retry every request it sent, elsewhere or later.
 */
export function http2Refusal(message: string, code = constants.NGHTTP2_REFUSED_STREAM): Buffer {
  const settings = Buffer.from([0, 0, 0, 0x4, 0, 0, 0, 0, 0]);
  const debug = Buffer.from(message);
  const goaway = Buffer.alloc(9 + 8 + debug.length);
  goaway.writeUIntBE(8 + debug.length, 0, 3);
  goaway[3] = 0x7; // GOAWAY, no flags, stream 0
  goaway.writeUInt32BE(0, 9); // last stream id
  goaway.writeUInt32BE(code, 13);
  debug.copy(goaway, 17);
  return Buffer.concat([settings, goaway]);
}
