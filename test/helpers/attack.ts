/**
 * Tools for attacking the real server on 127.0.0.1 with raw sockets, and the check that good
 * clients are still served: a gRPC call (grpc-js), a Connect call, POST /extract and /healthz,
 * each on a fresh connection, each with the right face count.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import http2 from 'node:http2';
import net from 'node:net';
import { createFaceClient } from '../../clients/node/face-client.js';
import { FaceGrpcClient } from '../../clients/node/grpc-client.js';
import { BBT, readFace } from './data.js';
import { base64 } from './legacy.js';
import type { TestServer } from './server.js';

const BBT2 = readFace(BBT[1]);
const BBT2_FACES = 3;

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The server process's resident memory, from /proc (Linux). */
export function rssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+)\s+kB/.exec(status)?.[1]);
  return Math.round(kb / 1024);
}

/** Polls `check` every 50 ms until it is true or `ms` pass; returns its last value. */
export async function waitFor(check: () => boolean, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  while (!check() && Date.now() < until) await sleep(50);
  return check();
}

/** A raw TCP client that records everything it receives and how the connection ended. */
export class RawClient {
  readonly socket: net.Socket;
  readonly openedAt = Date.now();
  received = Buffer.alloc(0);
  error?: string;
  closedAt?: number;
  /** The server ended its side (FIN) or the socket closed. */
  endedAt?: number;
  readonly closed: Promise<void>;

  constructor(port: number) {
    this.socket = net.connect(port, '127.0.0.1');
    this.socket.on('data', (d: Buffer) => { this.received = Buffer.concat([this.received, d]); });
    this.socket.on('error', (e: NodeJS.ErrnoException) => { this.error ??= e.code ?? e.message; });
    this.socket.on('end', () => { this.endedAt ??= Date.now(); });
    this.closed = new Promise((resolve) => this.socket.once('close', () => {
      this.closedAt = Date.now();
      this.endedAt ??= this.closedAt;
      resolve();
    }));
  }

  connected(): Promise<void> {
    return new Promise((resolve, reject) => {
      if (!this.socket.connecting) return resolve();
      this.socket.once('connect', () => resolve());
      this.socket.once('error', reject);
    });
  }

  get text(): string {
    return this.received.toString('latin1');
  }

  /** The status line of the first HTTP/1.1 response received. */
  get status(): number | undefined {
    const m = /^HTTP\/1\.1 (\d{3})/.exec(this.text);
    return m ? Number(m[1]) : undefined;
  }

  write(data: string | Buffer): boolean {
    return !this.socket.destroyed && this.socket.write(data);
  }

  /**
   * Writes `total` bytes of spaces in chunks, waiting for drain (and `pauseMs` after each chunk,
   * to pace it like a real link); stops when the socket fails.
   */
  async pump(total: number, chunk = 64 << 10, pauseMs = 0): Promise<number> {
    const piece = Buffer.alloc(chunk, 0x20);
    let sent = 0;
    const open = () => !this.socket.destroyed && this.socket.writable;
    while (sent < total && open()) {
      if (pauseMs > 0) await sleep(pauseMs);
      if (!open()) break;
      const n = Math.min(chunk, total - sent);
      sent += n;
      if (!this.socket.write(n === chunk ? piece : piece.subarray(0, n)) && open()) {
        await new Promise<void>((resolve) => {
          const done = () => { this.socket.off('drain', done); this.socket.off('close', done); resolve(); };
          this.socket.once('drain', done);
          this.socket.once('close', done);
        });
      }
    }
    return sent;
  }

  /** Seconds from connect to the server ending the connection (undefined: still open). */
  get heldSeconds(): number | undefined {
    return this.endedAt === undefined ? undefined : (this.endedAt - this.openedAt) / 1000;
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/** An HTTP/2 session with prior knowledge, recording GOAWAY and errors; never throws events. */
export function h2connect(port: number, options: http2.ClientSessionOptions = {}): {
  session: http2.ClientHttp2Session;
  goaway: Promise<number>;
  closed: Promise<void>;
} {
  const session = http2.connect(`http://127.0.0.1:${port}`, options);
  session.on('error', () => undefined);
  const goaway = new Promise<number>((resolve) => session.once('goaway', (code: number) => resolve(code)));
  const closed = new Promise<void>((resolve) => session.once('close', () => resolve()));
  return { session, goaway, closed };
}

/** A stream's end: its RST code (0 = ended normally) and the response status, if any. */
export function streamOutcome(stream: http2.ClientHttp2Stream): Promise<{ rstCode: number; status?: number; body: string }> {
  return new Promise((resolve) => {
    let status: number | undefined;
    let body = '';
    stream.on('response', (headers) => { status = Number(headers[':status']); });
    stream.on('data', (d: Buffer) => { body += d.toString('latin1'); });
    stream.on('error', () => undefined);
    stream.once('close', () => resolve({ rstCode: stream.rstCode ?? 0, status, body }));
  });
}

/**
 * Good clients on fresh connections: grpc-js Extract, Connect Extract, POST /extract and
 * /healthz, each answered correctly. Throws (an assertion) otherwise.
 */
export async function assertServed(server: TestServer): Promise<void> {
  assert.equal(server.process.exitCode, null, 'the server process is still running');
  const grpc = new FaceGrpcClient(server.address);
  const connect = createFaceClient({ baseUrl: server.baseUrl, protocol: 'connect' });
  try {
    const [health, viaGrpc, viaConnect, rest] = await Promise.all([
      fetch(`${server.baseUrl}/healthz`),
      grpc.extract({ images: [{ data: BBT2 }] }, { deadline: 30_000 }),
      connect.extract([BBT2], { timeoutMs: 30_000 }),
      fetch(`${server.baseUrl}/extract`, {
        method: 'POST', headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ images: { data: [base64(BBT2)] } }),
      }),
    ]);
    assert.equal(health.status, 200, '/healthz');
    assert.equal(viaGrpc.results[0].faces.length, BBT2_FACES, 'gRPC (grpc-js) Extract');
    assert.equal(viaConnect[0].faces.length, BBT2_FACES, 'Connect Extract');
    assert.equal(rest.status, 200, 'POST /extract');
    assert.equal(((await rest.json()) as unknown[][])[0].length, BBT2_FACES, 'POST /extract faces');
  } finally {
    grpc.close();
    connect.close();
  }
}
