/** TCP-level and slow-client attacks (items 1, 2, 12; §2: resets before, during and after a request). */
import type net from 'node:net';
import { readFace } from '../../../test/helpers/data.js';
import type { Attack, AttackContext } from '../types.js';
import {
  connect, dataFrames, envelope, EXTRACT, extractRequest, FLAG, FRAME, grpcHeaders, headersFrame, PREFACE, RawH2, settings,
} from '../wire.js';
import { expectServerClosed, pool, rounds, watch, type Watched } from './util.js';

const bbt2 = () => readFace('face-api.js/examples/images/bbt2.jpg');

function extractJson(ctx: AttackContext): { head: string; body: Buffer } {
  const body = Buffer.from(JSON.stringify({ images: { data: [bbt2().toString('base64')] } }));
  const head = `POST /extract HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n`
    + `Authorization: ${ctx.auth.authorization}\r\nContent-Length: ${body.length}\r\n\r\n`;
  return { head, body };
}

/** Opens `n` connections, `width` at a time; each is tracked. */
async function openMany(ctx: AttackContext, n: number, width = 50): Promise<net.Socket[]> {
  const sockets: net.Socket[] = [];
  await pool(ctx, n, width, async () => {
    try {
      sockets.push(ctx.track(await connect(ctx.port)));
      ctx.sent();
    } catch { /* refused or timed out: a connection cap may answer this way */ }
  });
  return sockets;
}

/** Reads what the server sends on `socket` until it closes or `ms` pass. */
function readAll(socket: net.Socket, ms: number): Promise<Buffer> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const done = () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks));
    };
    const timer = setTimeout(done, ms);
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.once('close', done);
  });
}

export const resetBeforeFirstByte: Attack = {
  name: 'tcp-reset-before-first-byte',
  issue: '1, §2',
  seconds: { quick: 3, full: 15 },
  async run(ctx) {
    await pool(ctx, ctx.pick(20, 500), 10, async () => {
      const socket = await connect(ctx.port).catch(() => undefined);
      ctx.track(socket ?? { destroy() {} });
      socket?.resetAndDestroy();
      ctx.sent();
    });
    // The crash, if any, comes with the next turn of the server's event loop.
    await ctx.sleep(300);
  },
};

export const firstBytesSplit: Attack = {
  name: 'first-bytes-split',
  issue: '1',
  seconds: { quick: 4, full: 15 },
  async run(ctx) {
    const n = ctx.pick(2, 10);
    for (let i = 0; i < n && ctx.left() > 0; i++) {
      // HTTP/1.1 whose first read is one, then two bytes.
      for (const cut of [1, 2]) {
        const socket = ctx.track(await connect(ctx.port));
        const request = Buffer.from('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n');
        const answer = readAll(socket, 3000);
        socket.write(request.subarray(0, cut));
        await ctx.sleep(30);
        socket.end(request.subarray(cut));
        ctx.sent();
        const text = (await answer).toString('latin1');
        ctx.expect(text.startsWith('HTTP/1.1 200'), `GET /healthz sent as ${cut} byte(s), then the rest: answered 200 (got ${JSON.stringify(text.slice(0, 30))})`);
      }
      // HTTP/2 whose client preface (the magic, then SETTINGS) arrives in pieces: a byte at a
      // time, or cut after 3 bytes (what the sniff needs to decide), or in the middle.
      for (const cuts of [Array.from({ length: 33 }, (_, k) => k + 1), [3], [10], [24]]) {
        const h2 = ctx.track(new RawH2(await connect(ctx.port), false, true));
        const preface = Buffer.concat([PREFACE, settings()]);
        let at = 0;
        for (const cut of [...cuts, preface.length]) {
          h2.write(preface.subarray(at, cut));
          at = cut;
          await ctx.sleep(5);
        }
        h2.releaseAcks();
        h2.write(headersFrame(1, [[':method', 'GET'], [':scheme', 'http'], [':path', '/healthz'], [':authority', '127.0.0.1']], true));
        ctx.sent();
        const until = Date.now() + 3000;
        while (Date.now() < until && !h2.ended(1)) await ctx.sleep(20);
        const body = Buffer.concat(h2.frames.filter((f) => f.type === FRAME.DATA && f.stream === 1).map((f) => f.payload)).toString();
        const how = cuts.length > 1 ? 'a byte at a time' : `cut after ${cuts[0]} bytes`;
        ctx.expect(body.includes('SERVING'), `HTTP/2 preface and SETTINGS sent ${how}: /healthz answered over HTTP/2 (got ${JSON.stringify(body.slice(0, 40))}${h2.frames.some((f) => f.type === FRAME.GOAWAY) ? ', GOAWAY' : ''})`);
        h2.destroy();
      }
    }
  },
};

export const resetDuringRequest: Attack = {
  name: 'tcp-reset-during-request',
  issue: '§2, 17',
  seconds: { quick: 4, full: 20 },
  async run(ctx) {
    const { head, body } = extractJson(ctx);
    const image = bbt2();
    const grpcBody = envelope(extractRequest([image]));
    const n = ctx.pick(5, 50);
    await pool(ctx, n, 5, async (i) => {
      const socket = ctx.track(await connect(ctx.port));
      const h2 = i % 2 === 1;
      if (h2) socket.write(Buffer.concat([PREFACE, settings(), headersFrame(1, grpcHeaders(EXTRACT, ctx.auth))]));
      else socket.write(head);
      const wire = h2 ? dataFrames(1, grpcBody, true) : body;
      // Alternately: reset mid-upload, or once the whole request is in (while it is processed).
      if (i % 4 < 2) {
        socket.write(wire.subarray(0, wire.length >> 1));
        await ctx.sleep(20);
      } else {
        socket.write(wire);
        await ctx.sleep(30 + (i % 3) * 20);
      }
      socket.resetAndDestroy();
      ctx.sent();
    });
    await ctx.sleep(500);
  },
};

export const resetAfterResponse: Attack = {
  name: 'tcp-reset-after-response',
  issue: '§2',
  seconds: { quick: 4, full: 20 },
  async run(ctx) {
    const { head, body } = extractJson(ctx);
    const n = ctx.pick(4, 40);
    await pool(ctx, n, 4, async (i) => {
      if (i % 2 === 0) {
        const socket = ctx.track(await connect(ctx.port));
        let got = '';
        const answered = new Promise<void>((resolve) => {
          socket.on('data', (c: Buffer) => {
            got += c.toString('latin1');
            const m = /content-length: (\d+)/i.exec(got);
            const end = got.indexOf('\r\n\r\n');
            if (m && end >= 0 && got.length >= end + 4 + Number(m[1])) resolve();
          });
          socket.once('close', () => resolve());
        });
        socket.write(head);
        socket.write(body);
        await Promise.race([answered, ctx.sleep(ctx.left())]);
        ctx.expect(got.startsWith('HTTP/1.1 200'), `POST /extract answered before the reset (got ${JSON.stringify(got.slice(0, 20))})`);
        socket.resetAndDestroy();
      } else {
        const h2 = ctx.track(new RawH2(await connect(ctx.port)));
        h2.write(Buffer.concat([PREFACE, settings(), headersFrame(1, grpcHeaders(EXTRACT, ctx.auth)),
          dataFrames(1, envelope(extractRequest([bbt2()])), true)]));
        while (!h2.closed && ctx.left() > 0 && !h2.frames.some((f) => f.stream === 1 && (f.flags & FLAG.END_STREAM))) await ctx.sleep(10);
        h2.socket.resetAndDestroy();
      }
      ctx.sent();
    });
    await ctx.sleep(300);
  },
};

export const idleConnections: Attack = {
  name: 'idle-tcp-connections',
  issue: '2, 12',
  seconds: { quick: 6, full: 30 },
  async run(ctx) {
    const n = ctx.pick(100, 1000);
    await rounds(ctx, 6000, async () => {
      // Half never send a byte (the first-byte deadline is the header timeout); half make one
      // request and then idle on a kept-alive connection (the idle timeout).
      const silent = (await openMany(ctx, n / 2)).map(watch);
      const silentSince = Date.now();
      const kept = (await openMany(ctx, n / 2)).map(watch);
      for (const w of kept) w.socket.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
      const until = Date.now() + 3000;
      while (kept.some((w) => !w.head.includes('SERVING') && w.closedAt === undefined) && Date.now() < until) await ctx.sleep(20);
      const answered = kept.filter((w) => w.head.includes('SERVING')).length;
      ctx.expect(answered === kept.length, `kept-alive connections: GET /healthz answered before they idle (${answered} of ${kept.length})`);
      await Promise.all([
        expectServerClosed(ctx, silent, 'headersSeconds', 'connections that never send a byte', silentSince),
        expectServerClosed(ctx, kept, 'idleSeconds', 'kept-alive connections left idle', Date.now()),
      ]);
    });
  },
};

/** Opens `n` connections, runs `start` on each, and expects the server to close them all. */
async function slowClients(ctx: AttackContext, o: {
  n: number; start: (socket: net.Socket) => void; dripByte?: string; timeout: 'headersSeconds' | 'bodySeconds' | 'requestSeconds';
  label: string;
  /** What each must be told before the close; default 408. */
  answer?: RegExp;
}): Promise<void> {
  const sockets = (await openMany(ctx, o.n)).map(watch);
  const since = Date.now();
  for (const w of sockets) o.start(w.socket);
  // A byte every half second: never idle long enough for the body timeout, never done.
  const drip = o.dripByte === undefined ? undefined
    : setInterval(() => { for (const w of sockets) if (w.closedAt === undefined) w.socket.write(o.dripByte!); }, 500);
  try {
    await expectServerClosed(ctx, sockets, o.timeout, o.label, since, o.answer ?? /^HTTP\/1\.1 408 /);
  } finally {
    clearInterval(drip);
  }
}

export const slowlorisHttp1Headers: Attack = {
  name: 'slowloris-http1-headers',
  issue: '2, 12, §2',
  seconds: { quick: 6, full: 30 },
  async run(ctx) {
    await rounds(ctx, 6000, () => slowClients(ctx, {
      n: ctx.pick(50, 1000), timeout: 'headersSeconds', label: 'half-sent headers, a byte every 0.5 s', dripByte: 'a',
      start: (s) => s.write('POST /extract HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: '),
    }));
  },
};

const slowBodyHead = (ctx: AttackContext, length: number) => `POST /extract HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n`
  + `Authorization: ${ctx.auth.authorization}\r\nContent-Length: ${length}\r\n\r\n`;

export const slowlorisHttp1Body: Attack = {
  name: 'slowloris-http1-body',
  issue: '2, 12',
  seconds: { quick: 7, full: 30 },
  // The full round's 1,000 declared bodies hold the whole body budget: good uploads beside
  // them are refused with a retry hint (429), which is what the budget is for.
  overloads: true,
  async run(ctx) {
    await rounds(ctx, 7000, () => slowClients(ctx, {
      n: ctx.pick(50, 1000), timeout: 'requestSeconds', label: 'bodies sent a byte every 0.5 s', dripByte: 'A',
      start: (s) => s.write(`${slowBodyHead(ctx, 1_000_000)}{"images":{"data":["`),
      // 1,000 bodies of 1 MB declared pass the body budget: the ones over it are refused at
      // once with 429 and a retry hint, the rest time out with 408. Both are right.
      answer: /^HTTP\/1\.1 (408 |429 [^]*retry-after: \d)/i,
    }));
  },
};

export const bodyNeverComes: Attack = {
  name: 'http1-body-never-comes',
  issue: '2, 12',
  seconds: { quick: 6, full: 30 },
  async run(ctx) {
    await rounds(ctx, 6000, () => slowClients(ctx, {
      n: ctx.pick(50, 1000), timeout: 'bodySeconds', label: 'bodies that never come',
      start: (s) => s.write(slowBodyHead(ctx, 100_000)),
    }));
  },
};

/** The chaos server's connection cap for connectionCap (FACEREST_MAX_CONNECTIONS; default 1024). */
const CONNECTION_CAP = 200;
/** "Answered at once": a refusal comes this soon after the connection's first bytes (measured: a few ms). */
const REFUSAL_MS = 1000;

export const connectionCap: Attack = {
  name: 'connection-cap',
  issue: '2, 12',
  seconds: { quick: 6, full: 20 },
  // Good clients that open a connection while the attacker holds them all are refused, with a
  // retry hint: that is what the cap is for.
  overloads: true,
  env: { FACEREST_MAX_CONNECTIONS: String(CONNECTION_CAP) },
  async run(ctx) {
    const n = ctx.pick(300, 600);
    await rounds(ctx, 5000, async () => {
      const conns: { w: Watched; h2: boolean; sentAt: number; answeredAt?: number }[] = [];
      await pool(ctx, n, 50, async (i) => {
        const socket = await connect(ctx.port).catch(() => undefined);
        if (!socket) return;
        const c = { w: watch(ctx.track(socket)), h2: i % 3 === 2, sentAt: Date.now(), answeredAt: undefined as number | undefined };
        socket.once('data', () => { c.answeredAt = Date.now(); });
        // HTTP/1.1: a head that is not finished; HTTP/2: the preface, and no stream.
        socket.write(c.h2 ? Buffer.concat([PREFACE, settings()]) : 'POST /extract HTTP/1.1\r\nHost: 127.0.0.1\r\n');
        conns.push(c);
        ctx.sent();
      });
      await ctx.sleep(REFUSAL_MS);
      // Told apart by what they say, not by when: the header timeout answers 408 / GOAWAY(NO_ERROR).
      const refusedH1 = (c: (typeof conns)[number]) => !c.h2 && /^HTTP\/1\.1 503 [^]*retry-after: \d/i.test(c.w.head);
      const refusedH2 = (c: (typeof conns)[number]) => c.h2 && c.w.head.includes('too many connections');
      // Beyond twice the cap the server closes new connections without a word (answering would
      // cost file descriptors it may not have): refused too, and never counted as taken.
      const dropped = conns.filter((c) => !refusedH1(c) && !refusedH2(c) && c.w.closedAt !== undefined && c.w.head === '');
      const refused = conns.filter((c) => refusedH1(c) || refusedH2(c));
      const late = refused.filter((c) => c.answeredAt === undefined || c.answeredAt - c.sentAt > REFUSAL_MS);
      const accepted = conns.length - refused.length - dropped.length;
      ctx.note(`${conns.length} connections against a cap of ${CONNECTION_CAP}: ${refused.length} refused `
        + `(${refused.filter((c) => c.h2).length} HTTP/2 GOAWAY, ${refused.filter((c) => !c.h2).length} HTTP/1.1 503), ${dropped.length} closed unanswered, `
        + `slowest refusal ${Math.max(0, ...refused.map((c) => (c.answeredAt ?? Date.now()) - c.sentAt))} ms`);
      ctx.expect(accepted <= CONNECTION_CAP, `at most ${CONNECTION_CAP} connections are taken (got ${accepted})`);
      ctx.expect(refused.length + dropped.length >= conns.length - CONNECTION_CAP,
        `every connection over the cap is refused (503 + Retry-After, or GOAWAY): ${refused.length} of at least ${conns.length - CONNECTION_CAP}`);
      ctx.expect(late.length === 0, `refusals come at once (within ${REFUSAL_MS} ms of the first bytes): ${late.length} late`);
      for (const c of conns) c.w.socket.destroy();
      // Let the server see them go before the next round.
      await ctx.sleep(300);
    });
  },
};
