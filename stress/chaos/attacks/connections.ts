/** TCP-level and slow-client attacks (items 1, 2, 12; §2: resets before, during and after a request). */
import type net from 'node:net';
import { readFace } from '../../../test/helpers/data.js';
import type { Attack, AttackContext } from '../types.js';
import {
  connect, dataFrames, envelope, EXTRACT, extractRequest, FLAG, FRAME, grpcHeaders, headersFrame, PREFACE, RawH2, settings,
} from '../wire.js';
import { expectServerClosed, holdOn, pool } from './util.js';

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
      // HTTP/2 whose preface arrives a byte at a time.
      const h2 = ctx.track(new RawH2(await connect(ctx.port)));
      for (const byte of PREFACE) {
        h2.write(Buffer.from([byte]));
        await ctx.sleep(5);
      }
      h2.write(Buffer.concat([settings(), headersFrame(1, [
        [':method', 'GET'], [':scheme', 'http'], [':path', '/healthz'], [':authority', '127.0.0.1'],
      ], true)]));
      ctx.sent();
      const until = Date.now() + 3000;
      while (Date.now() < until && !h2.frames.some((f) => f.type === FRAME.DATA && f.stream === 1) && !h2.closed) await ctx.sleep(20);
      const body = Buffer.concat(h2.frames.filter((f) => f.type === FRAME.DATA && f.stream === 1).map((f) => f.payload)).toString();
      ctx.expect(body.includes('SERVING'), `HTTP/2 preface sent a byte at a time: /healthz answered over HTTP/2 (got ${JSON.stringify(body.slice(0, 40))})`);
      h2.destroy();
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
  seconds: { quick: 5, full: 30 },
  async run(ctx) {
    const sockets = await openMany(ctx, ctx.pick(100, 1000));
    await expectServerClosed(ctx, sockets, 'idleSeconds', 'idle connections', Date.now());
    await holdOn(ctx);
  },
};

export const slowlorisHttp1Headers: Attack = {
  name: 'slowloris-http1-headers',
  issue: '2, 12, §2',
  seconds: { quick: 5, full: 30 },
  async run(ctx) {
    const sockets = await openMany(ctx, ctx.pick(50, 1000));
    const since = Date.now();
    for (const s of sockets) s.write('POST /extract HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ');
    // A byte every half second: the header never ends, but the connection is never idle.
    const drip = setInterval(() => { for (const s of sockets) if (!s.destroyed) s.write('a'); }, 500);
    try {
      await expectServerClosed(ctx, sockets, 'headersSeconds', 'half-sent headers', since);
      await holdOn(ctx);
    } finally {
      clearInterval(drip);
    }
  },
};

export const slowlorisHttp1Body: Attack = {
  name: 'slowloris-http1-body',
  issue: '2, 12',
  seconds: { quick: 7, full: 30 },
  async run(ctx) {
    const sockets = await openMany(ctx, ctx.pick(50, 1000));
    const since = Date.now();
    for (const s of sockets) {
      s.write(`POST /extract HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n`
        + `Authorization: ${ctx.auth.authorization}\r\nContent-Length: 1000000\r\n\r\n{"images":{"data":["`);
    }
    const drip = setInterval(() => { for (const s of sockets) if (!s.destroyed) s.write('A'); }, 500);
    try {
      await expectServerClosed(ctx, sockets, 'requestSeconds', 'bodies sent a byte at a time', since);
      await holdOn(ctx);
    } finally {
      clearInterval(drip);
    }
  },
};

export const bodyNeverComes: Attack = {
  name: 'http1-body-never-comes',
  issue: '2, 12',
  seconds: { quick: 5, full: 30 },
  async run(ctx) {
    const sockets = await openMany(ctx, ctx.pick(50, 1000));
    const since = Date.now();
    for (const s of sockets) {
      s.write(`POST /extract HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n`
        + `Authorization: ${ctx.auth.authorization}\r\nContent-Length: 100000\r\n\r\n`);
    }
    await expectServerClosed(ctx, sockets, 'bodySeconds', 'bodies that never come', since);
    await holdOn(ctx);
  },
};
