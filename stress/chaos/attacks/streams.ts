/**
 * ExtractStream clients (items 4, 15, 16; §2): that never read, send thousands of tiny messages,
 * send one 100 MB image, reuse ids, go idle, abort while waiting for room, and many streams
 * against unary calls.
 */
import * as grpc from '@grpc/grpc-js';
import { setMaxListeners } from 'node:events';
import { createFaceClient } from '../../../clients/node/face-client.js';
import { FaceGrpcClient } from '../../../clients/node/grpc-client.js';
import { BBT, readFace } from '../../../test/helpers/data.js';
import { CHAOS_TIMEOUTS, CLOSE_SLACK_SECONDS } from '../server-env.js';
import type { Attack, AttackContext } from '../types.js';
import { dataFrames, envelope, EXTRACT_STREAM, grpcHeaders, headersFrame, pbBytes, RawH2 } from '../wire.js';
import { drained, percentile, pool, rounds } from './util.js';

const BBT2 = 'face-api.js/examples/images/bbt2.jpg';
const BBT2_FACES = 3;
const codeName = (err: unknown) => {
  const e = err as grpc.ServiceError;
  return e.code !== undefined ? `${grpc.status[e.code]}: ${e.details}` : (err as Error).message;
};

/** An ExtractStreamRequest: id (1), image (2) { data (1) }. */
const streamMessage = (id: string, data: Uint8Array) => envelope(Buffer.concat([pbBytes(1, Buffer.from(id)), pbBytes(2, pbBytes(1, data))]));

/** Yields photos cycling through `photos` until the attack ends (or `max` are out). */
async function* until(ctx: AttackContext, photos: Buffer[], max = Infinity, id = (i: number) => String(i)) {
  for (let i = 0; i < max && ctx.left() > 0; i++) yield { id: id(i), image: { data: photos[i % photos.length] } };
}

export const streamNeverReads: Attack = {
  name: 'stream-never-reads',
  issue: '14, §2',
  seconds: { quick: 8, full: 30 },
  // Until the write timeout ends them, these streams count against the server's caps on
  // requests in progress: in a full round one good HTTP/2 call of 186 was refused with
  // REFUSED_STREAM (HTTP/2's "not processed, retry"), which is the cap doing its job.
  overloads: true,
  async run(ctx) {
    const photo = readFace(BBT2);
    const limitMs = (CHAOS_TIMEOUTS.writeSeconds + CLOSE_SLACK_SECONDS) * 1000;
    const rssBefore = ctx.rssMb();
    let total = 0;
    let ended = 0;
    await rounds(ctx, limitMs + 4000, () => pool(ctx, 4, 4, async (k) => {
      // Never reads a byte, never opens its flow-control window: after 64 KB of answers the
      // server cannot send, while the client keeps sending photos.
      const c = ctx.track(await RawH2.open(ctx.port, true));
      total++;
      c.write(headersFrame(1, grpcHeaders(EXTRACT_STREAM, { ...ctx.auth, 'x-request-id': `never-reads-${total}-${k}` })));
      let lastWrite = Date.now();
      for (let i = 0; i < ctx.pick(200, 2000) && !c.closed && ctx.left() > limitMs + 1500; i++) {
        ctx.sent();
        if (!c.write(dataFrames(1, streamMessage(String(i), photo)))) {
          // The server stopped taking messages: it is holding the ones it cannot answer.
          if (!(await drained(c.socket, 1000))) break;
        }
        lastWrite = Date.now();
      }
      // The write timeout runs from the server's first answer that could not go out.
      await ctx.sleep(lastWrite + limitMs - Date.now());
      c.read();
      await ctx.sleep(500);
      if (c.ended(1)) ended++;
      c.destroy();
    }));
    ctx.note(`${ended} of ${total} streams that never read were ended by the server; server RSS ${rssBefore.toFixed(0)} MB before, peak ${ctx.rssPeakMb().toFixed(0)} MB`);
    ctx.expect(ended === total, `an ExtractStream whose answers are never read is ended within ${limitMs / 1000} s of its last message (RST_STREAM): ${ended} of ${total}`);
    const outcomes = ctx.logs().filter((l) => l.msg === 'rpc' && String(l.reqId).startsWith('never-reads-')).map((l) => String(l.outcome));
    ctx.expect(outcomes.length === total && !outcomes.includes('ok'), `those streams are logged, and not as 'ok' (got ${outcomes.join(', ') || 'none'})`);
  },
};

export const streamTinyMessages: Attack = {
  name: 'stream-tiny-messages',
  issue: '§2',
  seconds: { quick: 6, full: 30 },
  async run(ctx) {
    const client = ctx.track(new FaceGrpcClient(ctx.address));
    // As many as the server answers well inside the attack's 30 s on these 2 cores: 100,000
    // took 25 s on a quiet machine and did not finish (78,321) on a loaded one.
    const n = ctx.pick(5000, 50_000);
    const tiny = Buffer.from([0]);
    const start = Date.now();
    let answers = 0;
    let sent = 0;
    async function* source() {
      for (; sent < n && ctx.left() > 0; sent++) yield { id: String(sent), image: { data: tiny } };
    }
    try {
      for await (const r of client.extractStream(source(), { metadata: ctx.auth })) {
        answers++;
        if (!r.result?.error) ctx.expect(false, `a 1-byte image is answered with an error (got ${r.result?.faces.length} faces)`);
        if (ctx.left() === 0) break;
      }
    } catch (err) {
      ctx.expect(false, `a stream of ${n} one-byte messages ends normally (got ${codeName(err)})`);
    }
    ctx.sent(sent);
    ctx.note(`${sent} tiny messages sent, ${answers} answered in ${((Date.now() - start) / 1000).toFixed(1)} s`);
    if (sent === n) ctx.expect(answers === n, `every one of ${n} tiny messages answered (got ${answers})`);
  },
};

export const streamHugeImage: Attack = {
  name: 'stream-100mb-image',
  issue: '16, §2',
  seconds: { quick: 10, full: 30 },
  async run(ctx) {
    for (const mb of [65, 100]) {
      const client = ctx.track(new FaceGrpcClient(ctx.address));
      const data = Buffer.alloc(mb << 20);
      try {
        for await (const r of client.extractStream([{ id: 'big', image: { data } }], { metadata: ctx.auth, deadline: Math.max(1, ctx.left()) })) {
          ctx.expect(Boolean(r.result?.error), `a ${mb} MB image in a stream: refused (got an answer without error)`);
        }
        ctx.note(`${mb} MB: the stream ended normally`);
      } catch (err) {
        const e = err as grpc.ServiceError;
        ctx.note(`${mb} MB: ${codeName(err)}`);
        // Over the message size limit is a limit: INVALID_ARGUMENT naming it (item 9), not the
        // client-side NGHTTP2_ENHANCE_YOUR_CALM reset of item 16.
        ctx.expect(e.code === grpc.status.INVALID_ARGUMENT && /limit/.test(e.details ?? ''),
          `a ${mb} MB stream message: INVALID_ARGUMENT naming the limit (got ${codeName(err)})`);
      }
      ctx.sent();
      client.close();
    }
  },
};

export const streamReusedIds: Attack = {
  name: 'stream-reused-ids',
  issue: '§2',
  seconds: { quick: 8, full: 30 },
  async run(ctx) {
    const client = ctx.track(new FaceGrpcClient(ctx.address));
    const n = ctx.pick(40, 500);
    let answers = 0;
    try {
      for await (const r of client.extractStream(until(ctx, [readFace(BBT2)], n, () => 'same'), { metadata: ctx.auth })) {
        answers++;
        ctx.expect(r.id === 'same' && r.result?.faces.length === BBT2_FACES, `each message with the reused id answered with ${BBT2_FACES} faces (got id ${r.id}, ${r.result?.faces.length} faces ${r.result?.error?.message ?? ''})`);
      }
    } catch (err) {
      ctx.expect(false, `a stream reusing one id for ${n} images ends normally (got ${codeName(err)})`);
    }
    ctx.sent(n);
    if (ctx.left() > 0) ctx.expect(answers === n, `all ${n} answered (got ${answers})`);
  },
};

export const streamIdle: Attack = {
  name: 'stream-idle',
  issue: '2, §2',
  seconds: { quick: 6, full: 30 },
  async run(ctx) {
    const limit = (CHAOS_TIMEOUTS.bodySeconds + CLOSE_SLACK_SECONDS) * 1000;
    await rounds(ctx, limit + 1000, async () => {
      const n = ctx.pick(20, 200);
      // Four connections (grpc-js shares one between clients unless told not to): 200 streams
      // stay within the 100 a connection may hold (the streams over that cap are refused).
      const clients = Array.from({ length: 4 }, () => ctx.track(new FaceGrpcClient(ctx.address, undefined, { 'grpc.use_local_subchannel_pool': 1 })));
      const since = Date.now();
      const stop = new AbortController();
      setMaxListeners(0, stop.signal);
      // Opens its call and sends nothing, ever (until the attack ends).
      const idle = async function* () {
        await new Promise((r) => { stop.signal.addEventListener('abort', r); ctx.signal.addEventListener('abort', r); });
        yield* [];
      };
      const endedAt: number[] = [];
      const streams = Array.from({ length: n }, async (_, i) => {
        try {
          for await (const r of clients[i % 4].extractStream(idle(), { metadata: ctx.auth })) void r;
        } catch { /* ended by the server (CANCELLED after its RST_STREAM) */ }
        if (!stop.signal.aborted) endedAt.push(Date.now() - since);
      });
      ctx.sent(n);
      await Promise.race([Promise.all(streams), ctx.sleep(limit)]);
      stop.abort();
      const slowest = Math.max(0, ...endedAt) / 1000;
      ctx.note(`${endedAt.length} of ${n} idle streams ended by the server, the last after ${slowest.toFixed(1)} s`);
      ctx.expect(endedAt.length === n, `idle ExtractStreams are ended within ${limit / 1000} s (body timeout ${CHAOS_TIMEOUTS.bodySeconds} s + slack): ${endedAt.length} of ${n}`);
      for (const c of clients) c.close();
      await Promise.all(streams);
    });
  },
};

/**
 * A unary call's latency beside the streams may be at most this (median) and this (slowest).
 * Measured before the fix: with only 4 streams the median went from 0.11 to 2.1 s, and with 8
 * the unary clients got 100 refusals for 1 success. After, with 32 streams (full round) on this
 * 2-core machine: medians 1.21, 1.60 and 2.51 s (the good clients beside them: 1.29, 1.54 and
 * 2.31 s), slowest 4.38 s, and no refusal.
 */
const UNARY_P50_MS = 3000;
const UNARY_MAX_MS = 5000;

export const streamsVersusUnary: Attack = {
  name: 'streams-vs-unary',
  issue: '15, §2',
  seconds: { quick: 6, full: 30 },
  async run(ctx) {
    const photos = BBT.map((b) => readFace(b));
    const n = ctx.pick(8, 32);
    const client = ctx.track(new FaceGrpcClient(ctx.address));
    let answers = 0;
    const streams = Promise.all(Array.from({ length: n }, async () => {
      try {
        for await (const r of client.extractStream(until(ctx, photos), { metadata: ctx.auth })) {
          answers++;
          ctx.sent();
          void r;
          if (ctx.left() === 0) break;
        }
      } catch (err) {
        if (ctx.left() > 0) ctx.expect(false, `a well-behaved stream is served (got ${codeName(err)})`);
      }
    }));
    // Unary calls, one at a time, once the streams fill the workers: each must be answered,
    // not refused, and soon.
    await ctx.sleep(500);
    const probe = ctx.track(new FaceGrpcClient(ctx.address));
    const bbt2 = readFace(BBT2);
    const latencies: number[] = [];
    let refused = 0;
    while (ctx.left() > 1000) {
      const start = performance.now();
      const deadline = Math.max(1, ctx.left());
      ctx.sent();
      try {
        const res = await probe.extract({ images: [{ data: bbt2 }], options: { maxSize: 640 } }, { metadata: ctx.auth, deadline });
        latencies.push(performance.now() - start);
        ctx.expect(res.results[0].faces.length === BBT2_FACES, `a unary call beside the streams finds ${BBT2_FACES} faces (got ${res.results[0].faces.length})`);
      } catch (err) {
        // The call's deadline is the attack's end: a call cut off by it was not refused.
        if ((err as grpc.ServiceError).code === grpc.status.DEADLINE_EXCEEDED && performance.now() - start >= deadline - 50) break;
        refused++;
        if (refused <= 3) ctx.expect(false, `a unary call beside ${n} streams is answered (got ${codeName(err)})`);
      }
    }
    await streams;
    const p50 = percentile(latencies, 0.5);
    const max = Math.max(0, ...latencies);
    const good = ctx.goodLatencies();
    ctx.note(`${n} streams got ${answers} answers; ${latencies.length} unary calls beside them: median ${(p50 / 1000).toFixed(2)} s, slowest ${(max / 1000).toFixed(2)} s;`
      + ` good clients' median ${(percentile(good, 0.5) / 1000).toFixed(2)} s`);
    ctx.expect(latencies.length > 0 && p50 <= UNARY_P50_MS && max <= UNARY_MAX_MS,
      `unary calls beside ${n} streams: median at most ${UNARY_P50_MS / 1000} s and none over ${UNARY_MAX_MS / 1000} s (got ${(p50 / 1000).toFixed(2)} s and ${(max / 1000).toFixed(2)} s over ${latencies.length})`);
    ctx.expect(answers > n, `the streams are served too (${answers} answers for ${n} streams)`);
  },
};

/**
 * The chaos server runs 2 workers: a queue of 64 images (32 per worker) and 8 images in flight
 * per stream (4 per worker). `holders` streams of 8 portraits fill the queue; `gone` streams
 * queue 8 waiters each behind them and are aborted; `live` streams wait behind those. With
 * aborted waiters left in line, each of the 64 releases wakes a dead waiter and the live
 * streams sleep on an idle server (item 4). Any unary call would wake them, so it runs quiet.
 */
export const streamWaitersAborted: Attack = {
  name: 'stream-waiters-aborted',
  issue: '4',
  seconds: { quick: 20, full: 30 },
  quiet: 'a unary call releases room in the queue and wakes a stranded stream, hiding the defect',
  async run(ctx) {
    const portraits = Array.from({ length: 8 }, (_, i) => readFace(`deepface/img${i + 1}.jpg`));
    const photos = BBT.map((b) => readFace(b));
    const client = createFaceClient({ baseUrl: ctx.baseUrl, protocol: 'grpc', headers: ctx.auth });
    ctx.track(client);
    const stream = (images: Buffer[], signal?: AbortSignal) => (async () => {
      let answers = 0;
      try {
        for await (const r of client.extractAll(images, { signal: signal ?? ctx.signal })) {
          void r;
          answers++;
        }
      } catch (err) {
        if (!signal?.aborted && !ctx.signal.aborted) ctx.expect(false, `a stream beside aborted ones is served (got ${codeName(err)})`);
      }
      return answers;
    })();
    const holders = Array.from({ length: 8 }, () => stream(portraits));
    await ctx.sleep(600);
    const goneAbort = new AbortController();
    // 20 streams: 160 waiters, more than the 64 releases to come whatever the timing (10 were
    // not always enough: some took room freed early and never waited).
    const gone = Array.from({ length: 20 }, () => stream(photos.concat(photos).slice(0, 8), goneAbort.signal));
    await ctx.sleep(300);
    const live = Array.from({ length: 2 }, () => stream(photos.concat(photos).slice(0, 8)));
    await ctx.sleep(300);
    goneAbort.abort(new Error('client went away'));
    ctx.sent(8 * 8 + gone.length * 8 + 2 * 8);
    const held = await Promise.all(holders);
    await Promise.all(gone);
    // When not stranded they finish about 0.4 s after the holders (measured with 10 aborted streams,
    // which did not strand them); 10 s is ample.
    const liveDone = await Promise.race([Promise.all(live), ctx.sleep(Math.min(10_000, ctx.left() - 1000)).then(() => undefined)]);
    ctx.note(`holders answered ${held.join(', ')} of 8; live streams ${liveDone ? `answered ${liveDone.join(', ')} of 8` : 'still waiting at the deadline'}`);
    ctx.expect(liveDone !== undefined && liveDone.every((n) => n === 8),
      `streams queued behind aborted ones are served once the queue empties (${liveDone ? liveDone.join(', ') : 'none'} of 8 answered)`);
  },
};

export const clientConcurrentExtractAll: Attack = {
  name: 'client-20-concurrent-extractall',
  issue: '16',
  seconds: { quick: 30, full: 60 },
  async run(ctx) {
    const photos = ['img26', 'img1', 'img33', 'img35', 'img40'].map((n) => readFace(`deepface/${n}.jpg`));
    const client = createFaceClient({ baseUrl: ctx.baseUrl, protocol: 'grpc', headers: ctx.auth });
    ctx.track(client);
    const failures: string[] = [];
    let answers = 0;
    await Promise.all(Array.from({ length: 20 }, async () => {
      try {
        for await (const r of client.extractAll(photos, { timeoutMs: Math.max(1, ctx.left()) })) {
          answers++;
          if (r.result.error || r.result.faces.length === 0) failures.push(`image ${r.id}: ${r.result.error?.message ?? 'no faces'}`);
        }
      } catch (err) {
        failures.push((err as Error).message.slice(0, 100));
      }
    }));
    ctx.sent(100);
    ctx.expect(failures.length === 0 && answers === 100, `20 concurrent extractAll of 5 portraits on one connection: 100 answers (got ${answers}; ${failures.length} failures, first: ${failures[0] ?? ''})`);
  },
};
