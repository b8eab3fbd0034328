/**
 * When the server's own event loop is held up (a long parse, a collection, a saturated main
 * thread), clients that kept to every deadline are still served: the header, body and idle
 * deadlines are judged only after the bytes they sent meanwhile have been read. Before: after a
 * stall, Node runs timers before it polls the sockets, so the sweep saw those bytes as not yet
 * come: it answered a moving upload 408 and reset connections whose requests were waiting. The
 * chaos round's occasional 408 to a 22 MB upload, while the server's main thread was saturated,
 * pointed here.
 *
 * The listener runs in this thread with a handler that blocks it on request; the clients run in
 * a worker thread (helpers/stall-clients.ts), whose event loop the block does not touch.
 */
import assert from 'node:assert/strict';
import type http from 'node:http';
import type http2 from 'node:http2';
import { after, before, describe, it } from 'node:test';
import { Worker } from 'node:worker_threads';
import { pino } from 'pino';
import type { NetworkLimits } from '../server/config.js';
import { listen, type Listener } from '../server/http/listener.js';
import type { StallClientsData, StallOutcomes } from './helpers/stall-clients.js';

/** Every deadline 2 s; the block 4 s, longer than any of them with the sweep's period (0.5 s) on top. */
const DEADLINE_S = 2;
const BLOCK_MS = 4000;

const LIMITS: NetworkLimits = {
  maxConnections: 100,
  maxStreamsPerConnection: 10,
  headersTimeoutSeconds: DEADLINE_S,
  idleTimeoutSeconds: DEADLINE_S,
  bodyTimeoutSeconds: DEADLINE_S,
  requestTimeoutSeconds: 60,
  writeTimeoutSeconds: 10,
  bodyBudgetBytes: 64 << 20,
  maxRequests: 100,
};

/** Answers with the body's length; '/block' answers, then holds the event loop. */
function handler(req: http.IncomingMessage | http2.Http2ServerRequest, res: http.ServerResponse | http2.Http2ServerResponse): void {
  let bytes = 0;
  req.on('data', (chunk: Buffer) => { bytes += chunk.length; });
  req.on('end', () => {
    (res as http.ServerResponse).end(`read ${bytes}`);
    if (req.url === '/block') {
      const until = Date.now() + BLOCK_MS;
      while (Date.now() < until) { /* the stall under test */ }
    }
  });
}

describe('deadlines after the server stalls', () => {
  let listener: Listener;
  before(async () => {
    listener = await listen(handler, {
      port: 0, host: '127.0.0.1', limits: LIMITS, maxBodyBytes: 1 << 20, streamingPaths: new Set(), log: pino({ level: 'silent' }),
    });
  });
  after(async () => {
    listener.stopAccepting();
    await listener.close(0);
  });

  it('clients that sent on time during a 4 s stall are served; a silent one is still closed', { timeout: 30_000 }, async () => {
    const data: StallClientsData = { port: listener.port, stepAfterMs: 200 };
    const worker = new Worker(new URL('./helpers/stall-clients.js', import.meta.url), { workerData: data });
    // A client left waiting (a server that never answers) must fail the test, not hold the process open.
    worker.unref();
    let outcomes: StallOutcomes;
    try {
      outcomes = await new Promise<StallOutcomes>((resolve, reject) => {
        worker.once('message', resolve);
        worker.once('error', reject);
        worker.once('exit', (code) => reject(new Error(`the clients' thread exited (${code}) before reporting`)));
      });
    } finally {
      await worker.terminate();
    }
    assert.deepEqual(outcomes, {
      lateHead: 'HTTP/1.1 200 OK',
      movingBody: 'HTTP/1.1 200 OK',
      keptAlive: 'HTTP/1.1 200 OK',
      http2Body: ':status 200',
      silent: 'closed without an answer',
    });
  });
});
