/**
 * Clients that keep to every deadline while the server's event loop is held up: run in a worker
 * thread, so the test's own thread (where the listener runs) can block without blocking them.
 * Each connection is set up first; then one request makes the server block for a while, and
 * during the block each client does its next step on time. What each got back is posted.
 */
import http2 from 'node:http2';
import net from 'node:net';
import { parentPort, workerData } from 'node:worker_threads';

export interface StallClientsData {
  port: number;
  /** When, after the server started blocking, the clients take their next step. */
  stepAfterMs: number;
}

/** The first line each client read back ('HTTP/1.1 200 OK', ':status 200'), or how it ended. */
export interface StallOutcomes {
  /** A new connection whose whole request comes during the block. */
  lateHead: string;
  /** A body half sent before the block, the rest during it. */
  movingBody: string;
  /** A kept-alive connection whose next request comes during the block. */
  keptAlive: string;
  /** An HTTP/2 stream whose body ends during the block. */
  http2Body: string;
  /** A connection that sends nothing at all: the header deadline must still close it. */
  silent: string;
}

const { port, stepAfterMs } = workerData as StallClientsData;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const HALF = 1000;

/** Resolves with the first response line, or 'closed without an answer' / the socket's error. */
function firstLine(socket: net.Socket): Promise<string> {
  return new Promise((resolve) => {
    let text = '';
    socket.on('data', (d: Buffer) => {
      text += d.toString('latin1');
      const end = text.indexOf('\r\n');
      if (end >= 0) resolve(text.slice(0, end));
    });
    socket.on('error', (err) => resolve(`error: ${err.message}`));
    socket.on('close', () => resolve('closed without an answer'));
  });
}

async function open(): Promise<net.Socket> {
  const socket = net.connect(port, '127.0.0.1');
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  return socket;
}

const request = (path: string, body = '') =>
  `${body ? 'POST' : 'GET'} ${path} HTTP/1.1\r\nHost: x\r\nContent-Length: ${body.length}\r\n\r\n${body}`;

// Kept alive: one request answered, the connection left open for the next.
const keptAlive = await open();
const warmed = firstLine(keptAlive);
keptAlive.write(request('/warm'));
await warmed;
keptAlive.removeAllListeners('data').removeAllListeners('close').removeAllListeners('error');

const movingBody = await open();
movingBody.write(`POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: ${2 * HALF}\r\n\r\n${'a'.repeat(HALF)}`);
const lateHead = await open();
const silent = await open();
const session = http2.connect(`http://127.0.0.1:${port}`);
session.on('error', () => undefined);
const stream = session.request({ ':method': 'POST', ':path': '/upload' }, { endStream: false });
stream.write(Buffer.alloc(HALF, 0x61));
const http2Body = new Promise<string>((resolve) => {
  stream.on('response', (h) => resolve(`:status ${h[':status']}`));
  stream.on('close', () => resolve(`closed without an answer (RST_STREAM ${stream.rstCode})`));
  stream.on('error', () => undefined);
});
// Every connection accepted and its first bytes read before the server blocks.
await sleep(300);

const blocker = await open();
const blocking = firstLine(blocker);
blocker.write(request('/block'));
await blocking;
await sleep(stepAfterMs);

const outcomes = {
  lateHead: firstLine(lateHead),
  movingBody: firstLine(movingBody),
  keptAlive: firstLine(keptAlive),
  silent: firstLine(silent),
};
lateHead.write(request('/after'));
movingBody.write('a'.repeat(HALF));
keptAlive.write(request('/after'));
stream.end(Buffer.alloc(HALF, 0x61));

const result: StallOutcomes = {
  lateHead: await outcomes.lateHead,
  movingBody: await outcomes.movingBody,
  keptAlive: await outcomes.keptAlive,
  http2Body: await http2Body,
  silent: await outcomes.silent,
};
for (const s of [keptAlive, movingBody, lateHead, silent, blocker]) s.destroy();
session.destroy();
parentPort!.postMessage(result);
