/**
 * Protocol-level calls for tests that must see exactly what went over the wire: HTTP/2 frames
 * (a trailers-only answer, END_STREAM on the HEADERS frame) and HTTP/1.1 bytes, with request
 * bodies that can be left open forever (to prove that the server answered without reading them).
 */
import { once } from 'node:events';
import http2 from 'node:http2';
import net from 'node:net';

export interface RawAnswer {
  status: number;
  headers: Record<string, string>;
  /** HTTP/2: the HEADERS frame ended the stream (a trailers-only gRPC answer). */
  endStream: boolean;
  trailers: Record<string, string>;
  body: Buffer;
  /** From the request's first byte to the complete answer. */
  ms: number;
}

function flat(h: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(h)) if (typeof k === 'string') out[k] = Array.isArray(v) ? v.join(', ') : String(v);
  return out;
}

/** A gRPC / Connect envelope: flags, big-endian length, message. */
export function envelope(message: Uint8Array, flags = 0, declaredLength = message.length): Buffer {
  const head = Buffer.alloc(5);
  head[0] = flags;
  head.writeUInt32BE(declaredLength, 1);
  return Buffer.concat([head, message]);
}

/**
 * One HTTP/2 request on its own connection. With `keepOpen` the request body is never ended:
 * the answer must come without it. Rejects if no complete answer arrives within `timeoutMs`.
 */
export async function h2Call(port: number, headers: Record<string, string>, body: Uint8Array = Buffer.alloc(0),
  { keepOpen = false, timeoutMs = 10_000 } = {}): Promise<RawAnswer> {
  // Node's 10 MB default for a session's memory resets a stream that still has tens of MB
  // queued when the server answers early (issue 10 item 16): these calls send up to 64 MB at once.
  const session = http2.connect(`http://127.0.0.1:${port}`, { maxSessionMemory: 1024 });
  session.on('error', () => undefined);
  try {
    await once(session, 'connect');
    const started = performance.now();
    const stream = session.request({ ':method': 'POST', ...headers }, { endStream: false });
    stream.on('error', () => undefined);
    if (body.length) stream.write(body);
    if (!keepOpen) stream.end();
    return await new Promise<RawAnswer>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no complete answer within ${timeoutMs} ms`)), timeoutMs);
      let answer: RawAnswer | undefined;
      const chunks: Buffer[] = [];
      stream.on('response', (h, flags) => {
        answer = {
          status: Number(h[':status']), headers: flat(h), endStream: (flags & http2.constants.NGHTTP2_FLAG_END_STREAM) !== 0,
          trailers: {}, body: Buffer.alloc(0), ms: 0,
        };
      });
      stream.on('trailers', (t) => { if (answer) answer.trailers = flat(t); });
      stream.on('data', (d: Buffer) => chunks.push(d));
      const done = () => {
        clearTimeout(timer);
        if (!answer) return reject(new Error(`stream closed without an answer (rst code ${stream.rstCode})`));
        answer.body = Buffer.concat(chunks);
        answer.ms = performance.now() - started;
        resolve(answer);
      };
      stream.on('end', done);
      stream.on('close', done);
    });
  } finally {
    session.destroy();
  }
}

/**
 * One HTTP/1.1 request written by hand: `head` without the blank line, then `body`. With
 * `keepOpen` the socket stays open after the body (a body that never ends). Resolves with the
 * parsed answer once it is complete (content-length or chunked).
 */
export async function h1Call(port: number, head: string, body: Uint8Array | string = '',
  { keepOpen = false, timeoutMs = 10_000 } = {}): Promise<RawAnswer> {
  const socket = net.connect(port, '127.0.0.1');
  socket.on('error', () => undefined);
  try {
    await once(socket, 'connect');
    const started = performance.now();
    socket.write(`${head}\r\n\r\n`);
    if (body.length) socket.write(body);
    if (!keepOpen) socket.end();
    return await new Promise<RawAnswer>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no complete answer within ${timeoutMs} ms`)), timeoutMs);
      let data = Buffer.alloc(0);
      const tryParse = () => {
        const end = data.indexOf('\r\n\r\n');
        if (end < 0) return;
        const [statusLine, ...lines] = data.subarray(0, end).toString('latin1').split('\r\n');
        const headers: Record<string, string> = {};
        for (const line of lines) {
          const i = line.indexOf(':');
          headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
        }
        const rest = data.subarray(end + 4);
        let content: Buffer | undefined;
        if (headers['content-length'] !== undefined) {
          const n = Number(headers['content-length']);
          if (rest.length >= n) content = rest.subarray(0, n);
        } else if (headers['transfer-encoding'] === 'chunked') {
          const parts: Buffer[] = [];
          let at = 0;
          for (;;) {
            const eol = rest.indexOf('\r\n', at);
            if (eol < 0) return;
            const size = parseInt(rest.subarray(at, eol).toString('latin1'), 16);
            if (rest.length < eol + 2 + size + 2) return;
            if (size === 0) break;
            parts.push(rest.subarray(eol + 2, eol + 2 + size));
            at = eol + 2 + size + 2;
          }
          content = Buffer.concat(parts);
        } else {
          return;
        }
        if (!content) return;
        clearTimeout(timer);
        resolve({
          status: Number(statusLine.split(' ')[1]), headers, endStream: true, trailers: {}, body: content,
          ms: performance.now() - started,
        });
      };
      socket.on('data', (d: Buffer) => {
        data = Buffer.concat([data, d]);
        tryParse();
      });
      socket.on('close', () => {
        clearTimeout(timer);
        reject(new Error(`connection closed before a complete answer: ${JSON.stringify(data.toString('latin1').slice(0, 200))}`));
      });
    });
  } finally {
    socket.destroy();
  }
}

/** A gRPC or gRPC-Web answer's status: trailers, trailers-only headers, or gRPC-Web's trailer frame in the body. */
export function grpcStatusOf(answer: RawAnswer): { status?: string; message: string } {
  let fields: Record<string, string> = { ...answer.headers, ...answer.trailers };
  for (let at = 0; at + 5 <= answer.body.length;) {
    const length = answer.body.readUInt32BE(at + 1);
    if (answer.body[at] & 0x80) {
      const text = answer.body.subarray(at + 5, at + 5 + length).toString('latin1');
      fields = { ...fields, ...Object.fromEntries(text.split('\r\n').filter(Boolean).map((l) => [l.slice(0, l.indexOf(':')).trim().toLowerCase(), l.slice(l.indexOf(':') + 1).trim()])) };
    }
    at += 5 + length;
  }
  return { status: fields['grpc-status'], message: decodeURIComponent(fields['grpc-message'] ?? '') };
}

/** Samples /healthz latency every `everyMs` until stopped: what a good client sees while an attack runs. */
export function latencyProbe(baseUrl: string, everyMs = 25): () => Promise<{ maxMs: number; samples: number }> {
  let stopped = false;
  let maxMs = 0;
  let samples = 0;
  const loop = (async () => {
    while (!stopped) {
      const t = performance.now();
      try {
        await (await fetch(`${baseUrl}/healthz`)).arrayBuffer();
      } catch { /* counted as its latency */ }
      maxMs = Math.max(maxMs, performance.now() - t);
      samples++;
      await new Promise((r) => setTimeout(r, everyMs));
    }
  })();
  return async () => {
    stopped = true;
    await loop;
    return { maxMs, samples };
  };
}

/** The server process's resident memory (Linux), in MB. */
export async function rssMb(pid: number): Promise<number> {
  const { readFile } = await import('node:fs/promises');
  const m = /VmRSS:\s+(\d+)/.exec(await readFile(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

/** Peak RSS of `pid` while `run` runs, sampled every 50 ms. */
export async function peakRss<T>(pid: number, run: () => Promise<T>): Promise<{ result: T; beforeMb: number; peakMb: number }> {
  const beforeMb = await rssMb(pid);
  let peakMb = beforeMb;
  const timer = setInterval(() => { void rssMb(pid).then((v) => { peakMb = Math.max(peakMb, v); }, () => undefined); }, 50);
  try {
    const result = await run();
    peakMb = Math.max(peakMb, await rssMb(pid));
    return { result, beforeMb, peakMb };
  } finally {
    clearInterval(timer);
  }
}
