/** HTTP/2 protocol attacks (items 2, 12, 14; §2: slowloris, rapid reset, floods, oversized headers, unread responses). */
import { BBT, readFace } from '../../../test/helpers/data.js';
import { CHAOS_TIMEOUTS, CLOSE_SLACK_SECONDS } from '../server-env.js';
import type { AttackContext } from '../types.js';
import type { Attack } from '../types.js';
import {
  bigExtractRequest, connect, dataFrames, envelope, EXTRACT, extractRequest, FLAG, frame, FRAME, grpcHeaders, headerBlock, headersFrame,
  pbBytes, RawH2, rstStream, settings,
} from '../wire.js';
import { BODY_BUDGET_MB, RSS_HEADROOM_MB } from './bodies.js';
import { drained, h1, h2session, pool, rounds, watch } from './util.js';

/** Writes `bytes` unless the socket is gone; waits for the socket to drain, up to the deadline. */
async function send(ctx: AttackContext, conn: RawH2, bytes: Buffer): Promise<boolean> {
  if (conn.closed || conn.socket.destroyed) return false;
  if (!conn.write(bytes)) {
    await drained(conn.socket, ctx.left());
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

export const slowlorisHttp2: Attack = {
  name: 'slowloris-http2',
  issue: '2, 12, §2',
  seconds: { quick: 6, full: 30 },
  async run(ctx) {
    const limit = (Math.max(CHAOS_TIMEOUTS.bodySeconds, CHAOS_TIMEOUTS.headersSeconds, CHAOS_TIMEOUTS.idleSeconds) + CLOSE_SLACK_SECONDS) * 1000;
    await rounds(ctx, limit + 2000, async () => {
      const conns = ctx.pick(10, 100);
      const streams = ctx.pick(5, 10);
      const withStreams: RawH2[] = [];
      const idle: RawH2[] = [];
      const used: RawH2[] = [];
      await pool(ctx, conns, 20, async (i) => {
        const c = ctx.track(await RawH2.open(ctx.port));
        ctx.sent();
        // A third open no stream at all (the first must come within the header timeout); a
        // third make one request and then idle (the idle timeout).
        if (i % 3 === 0) {
          idle.push(c);
          return;
        }
        if (i % 3 === 2) {
          used.push(c);
          c.write(headersFrame(1, [[':method', 'GET'], [':scheme', 'http'], [':path', '/healthz'], [':authority', '127.0.0.1']], true));
          return;
        }
        withStreams.push(c);
        // gRPC calls whose DATA never comes (the body timeout).
        for (let k = 0; k < streams; k++) c.write(headersFrame(1 + 2 * k, grpcHeaders(EXTRACT, ctx.auth)));
        ctx.sent(streams);
      });
      const since = Date.now();
      const pairs: [RawH2, number][] = withStreams.flatMap((c) => Array.from({ length: streams }, (_, k) => [c, 1 + 2 * k] as [RawH2, number]));
      const goneAway = (list: RawH2[]) => list.filter((c) => c.closed || c.frames.some((f) => f.type === FRAME.GOAWAY)).length;
      const idleClosed = () => goneAway(idle);
      const until = since + limit;
      while ((pairs.some(([c, s]) => !c.ended(s)) || idleClosed() < idle.length || goneAway(used) < used.length)
        && Date.now() < until && ctx.left() > 0) await ctx.sleep(50);
      const usedAnswered = used.filter((c) => c.frames.some((f) => f.stream === 1 && f.type === FRAME.DATA && f.payload.includes('SERVING'))).length;
      const ended = pairs.filter(([c, s]) => c.ended(s)).length;
      const rst = pairs.filter(([c, s]) => c.frames.some((f) => f.stream === s && f.type === FRAME.RST_STREAM)).length;
      ctx.note(`streams without DATA ended by the server: ${ended} of ${pairs.length} (${rst} by RST_STREAM); `
        + `sessions without a stream closed (GOAWAY): ${idleClosed()} of ${idle.length}; sessions idle after a request closed: ${goneAway(used)} of ${used.length}; after ${((Date.now() - since) / 1000).toFixed(1)} s`);
      ctx.expect(ended === pairs.length, `HTTP/2 streams whose DATA never comes are reset within ${limit / 1000} s: ${ended} of ${pairs.length}`);
      ctx.expect(idleClosed() === idle.length, `HTTP/2 sessions that open no stream are closed (GOAWAY) within ${limit / 1000} s: ${idleClosed()} of ${idle.length}`);
      ctx.expect(usedAnswered === used.length && goneAway(used) === used.length,
        `HTTP/2 sessions idle after one request: answered, then closed (GOAWAY) within ${limit / 1000} s: ${usedAnswered} answered, ${goneAway(used)} closed of ${used.length}`);
      for (const c of [...idle, ...withStreams, ...used]) c.destroy();
    });
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
    const streams = ctx.pick(8, 30);
    const mb = 60;
    const rssBefore = ctx.rssMb();
    const session = h2session(ctx);
    const chunk = 1 << 20;
    // One copy for every stream: eight took this thread 2.7 s to build.
    const wire = envelope(bigExtractRequest(mb / 20, 20 << 20));
    const start = Date.now();
    const opened: { closed: boolean; sentMb: number; how: string }[] = [];
    await pool(ctx, streams, streams, async () => {
      const s = session.request({
        ':method': 'POST', ':path': EXTRACT, 'content-type': 'application/grpc', te: 'trailers', ...ctx.auth,
      }, { endStream: false });
      s.on('error', () => undefined);
      const state = { closed: false, sentMb: 0, how: '' };
      let status = '';
      s.on('response', (h) => { status = `grpc-status ${h['grpc-status'] ?? '?'}`; });
      s.on('trailers', (t) => { status = `grpc-status ${t['grpc-status'] ?? '?'}`; });
      s.once('close', () => {
        state.closed = true;
        state.how = `${status || `RST_STREAM ${s.rstCode}`} after ${((Date.now() - start) / 1000).toFixed(1)} s, ${state.sentMb} MB sent`;
      });
      opened.push(state);
      ctx.sent();
      // A valid message of three 20 MB images, all but its last byte sent; then nothing.
      for (let at = 0; at < wire.length - 1 && !state.closed && ctx.left() > 0; at += chunk) {
        if (!s.write(wire.subarray(at, Math.min(at + chunk, wire.length - 1)))) await drained(s, ctx.left());
        state.sentMb = Math.round(Math.min(at + chunk, wire.length) / 2 ** 20);
      }
    });
    const since = Date.now();
    const limit = (CHAOS_TIMEOUTS.bodySeconds + CLOSE_SLACK_SECONDS) * 1000;
    while (Date.now() - since < limit && opened.some((s) => !s.closed) && ctx.left() > 0) await ctx.sleep(100);
    const closed = opened.filter((s) => s.closed).length;
    const hows = new Map<string, number>();
    for (const o of opened) hows.set(o.how.replace(/ after .*/, ''), (hows.get(o.how.replace(/ after .*/, '')) ?? 0) + 1);
    ctx.note(`ended: ${[...hows].map(([k, v]) => `${k || 'open'} x${v}`).join(', ')}; e.g. ${opened.map((o) => o.how).slice(0, 3).join('; ')}`);
    const mem = `server RSS ${rssBefore.toFixed(0)} MB before, peak ${ctx.rssPeakMb().toFixed(0)} MB`;
    ctx.note(`${streams} streams of ${mb} MB stalled one byte short: ${closed} ended by the server after ${((Date.now() - since) / 1000).toFixed(1)} s; ${mem}`);
    ctx.expect(closed === opened.length, `stalled HTTP/2 uploads are ended within ${limit / 1000} s: ${closed} of ${opened.length}`);
    // Measured before the fix: 30 such streams on one connection held 1.9 GB (and more with
    // more streams). After: peaks of 1.23, 1.26 and 1.42 GB RSS, whatever the number of streams.
    // The budget counts the bytes received; RSS also holds them a second time while Connect
    // joins a message's chunks, and freed buffers go back to the system late: the bound is
    // twice the budget plus twice the headroom.
    ctx.expect(ctx.rssPeakMb() - rssBefore < 2 * (BODY_BUDGET_MB + RSS_HEADROOM_MB),
      `${streams * mb} MB of stalled HTTP/2 uploads hold at most twice the ${BODY_BUDGET_MB} MB body budget and the ${RSS_HEADROOM_MB} MB headroom: ${mem}`);
  },
};

/** Outcomes the server logged for requests whose x-request-id starts with `prefix`: 'ok', 'disconnected', '200'... */
function loggedOutcomes(ctx: AttackContext, prefix: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const l of ctx.logs()) {
    if ((l.msg === 'rpc' || l.msg === 'rest') && String(l.reqId).startsWith(prefix)) out.set(String(l.reqId), String(l.outcome));
  }
  return out;
}

export const unreadResponses: Attack = {
  name: 'responses-never-read',
  issue: '14, §2',
  // The quick round needs time to send more than the kernel may buffer (below).
  seconds: { quick: 16, full: 30 },
  // Calls whose answers are never read hold their place in the queue until the write timeout:
  // in a full round the queue filled, and a few good calls were refused with a retry hint.
  overloads: true,
  async run(ctx) {
    const limitMs = (CHAOS_TIMEOUTS.writeSeconds + CLOSE_SLACK_SECONDS) * 1000;
    const rssBefore = ctx.rssMb();
    // bbt4 (6 faces) with return_face_data: answers of about 96 KB (JSON) and 70 KB (protobuf).
    const photo = readFace(BBT[3]);
    // HTTP/2: a client that never opens its flow-control window (it reads, so that what the
    // server sent can be judged; a client that reads nothing: stream-never-reads): after 64 KB
    // the server cannot send, and each answer after that waits in the server.
    const c = ctx.track(await RawH2.open(ctx.port));
    const message = envelope(Buffer.concat([extractRequest([photo]), Buffer.from([6 << 3, 1])]));
    // HTTP/1.1: requests pipelined on one connection, answers never read: past what the kernel
    // buffers, the server's writes stop moving. Four photos a request, for answers of about
    // 380 KB. The kernel held about 4.4 MB in one measurement and all of 15 answers (5.7 MB) in
    // another (loopback buffers grow to tcp_rmem's 32 MB): so about 45 of them, 17 MB.
    const socket = ctx.track(await connect(ctx.port));
    const json = Buffer.from(JSON.stringify({ images: { data: Array.from({ length: 4 }, () => photo.toString('base64')) }, return_face_data: true }));
    const count = 60;
    let h2Count = 0;
    let h1Count = 0;
    // Paced below the server's capacity (about 40 photos/s here, 25 sent per second): the
    // subject is unread answers, not overload.
    for (let i = 0; i < count && ctx.left() > limitMs + 3000; i++) {
      if (!socket.destroyed) {
        socket.write(Buffer.concat([Buffer.from(`POST /extract HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n`
          + `Authorization: ${ctx.auth.authorization}\r\nX-Request-Id: unread-h1-${i}\r\nContent-Length: ${json.length}\r\n\r\n`), json]));
        h1Count++;
      }
      if (!c.closed) {
        const stream = 1 + 2 * i;
        c.write(Buffer.concat([headersFrame(stream, grpcHeaders(EXTRACT, { ...ctx.auth, 'x-request-id': `unread-h2-${i}` })), dataFrames(stream, message, true)]));
        h2Count++;
      }
      ctx.sent(2);
      await ctx.sleep(200);
    }
    // Every answer is done or stalled by now (or soon); then the write timeout must act.
    const h1Progress = () => loggedOutcomes(ctx, 'unread-h1-').size;
    let seen = -1;
    while (ctx.left() > limitMs + 1000 && h1Progress() !== seen) {
      seen = h1Progress();
      await ctx.sleep(1000);
    }
    await ctx.sleep(limitMs);
    // Now read what the server sent on HTTP/1.1: all that the kernel held, then the close.
    const h1 = watch(socket);
    const until = Date.now() + 1500;
    while (Date.now() < until && h1.closedAt === undefined) await ctx.sleep(50);
    const streams = Array.from({ length: h2Count }, (_, i) => 1 + 2 * i);
    const answered = streams.filter((id) => c.frames.some((f) => f.stream === id && f.type === FRAME.HEADERS && (f.flags & FLAG.END_STREAM)));
    // A stream answered in full may still see an RST_STREAM after its last frame (the write
    // timeout fired as the kernel took it): it counts as answered.
    const reset = streams.filter((id) => !answered.includes(id) && c.frames.some((f) => f.stream === id && f.type === FRAME.RST_STREAM));
    const h2Logs = loggedOutcomes(ctx, 'unread-h2-');
    const h1Logs = loggedOutcomes(ctx, 'unread-h1-');
    const tally = (m: Map<string, string>) => [...m.values()].reduce((acc, v) => acc.set(v, (acc.get(v) ?? 0) + 1), new Map<string, number>());
    const show = (m: Map<string, string>) => [...tally(m)].map(([k, v]) => `${k} x${v}`).join(', ');
    ctx.note(`HTTP/2: ${h2Count} calls, ${answered.length} answered in full, ${reset.length} reset by the server; logged ${show(h2Logs)}`);
    ctx.note(`HTTP/1.1: ${h1Count} pipelined, connection ${h1.closedAt !== undefined ? 'closed by the server' : 'still open'}; logged ${show(h1Logs)}`);
    ctx.note(`server RSS ${rssBefore.toFixed(0)} MB before, peak ${ctx.rssPeakMb().toFixed(0)} MB`);
    ctx.expect(reset.length > 0 && answered.length + reset.length === h2Count,
      `HTTP/2 answers the client does not read are dropped within ${limitMs / 1000} s (RST_STREAM): ${answered.length} answered + ${reset.length} reset of ${h2Count}`);
    ctx.expect(h1.closedAt !== undefined, `an HTTP/1.1 connection whose answers are not read is closed within ${limitMs / 1000} s`);
    // An answer that never reached its client is not 'ok' in the logs and metrics.
    const okH2 = tally(h2Logs).get('ok') ?? 0;
    ctx.expect(okH2 <= answered.length, `HTTP/2 calls logged 'ok' (${okH2}) are at most those answered in full (${answered.length})`);
    ctx.expect((tally(h1Logs).get('disconnected') ?? 0) > 0, `HTTP/1.1 answers dropped unread are logged 'disconnected' (got ${show(h1Logs)})`);
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
