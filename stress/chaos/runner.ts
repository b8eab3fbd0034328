/**
 * Runs attacks one after the other against the real server on 127.0.0.1, with good traffic
 * alongside, and judges each: server up afterwards, every good answer correct, the issue's
 * expectations met. A server that dies (or stalls, or is stopped by the memory guard) is
 * recorded and replaced by a fresh one, so one crash does not hide the attacks after it.
 */
import { setMaxListeners } from 'node:events';
import { FaceGrpcClient } from '../../clients/node/grpc-client.js';
import { RssSampler, rssMb } from '../../test/helpers/rss.js';
import { startServer, type TestServer } from '../../test/helpers/server.js';
import { GoodClients } from './good-clients.js';
import { goodPhotos, mismatch, quietReferences, type Photo, type Reference } from './good-traffic.js';
import { CHAOS_API_KEY, CHAOS_SERVER_ENV } from './server-env.js';
import type { Attack, AttackContext, AttackResult, GoodTally, Scale } from './types.js';

export interface ChaosOptions {
  attacks: Attack[];
  scale: Scale;
  /** The memory guard: an attack that drives the server's RSS past this is stopped and the server killed. */
  rssCapMb: number;
  log?: (line: string) => void;
}

export interface ChaosReport {
  scale: Scale;
  rssCapMb: number;
  seconds: number;
  results: AttackResult[];
}

/** Timings of the runner itself, per scale. */
const PACE: Record<Scale, { pauseMs: number; goodDeadlineMs: number; settleMs: number }> = {
  // A good client not answered in 10 s (15 s in the full round) counts as starved: a quiet
  // server answers these photos in about 0.1 s.
  quick: { pauseMs: 150, goodDeadlineMs: 10_000, settleMs: 100 },
  full: { pauseMs: 300, goodDeadlineMs: 15_000, settleMs: 2000 },
};
/** An attack that has not returned this long after its deadline is abandoned (a bug in the attack). */
const OVERRUN_MS = 10_000;

const AUTH = { authorization: `Bearer ${CHAOS_API_KEY}` };
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, Math.max(0, ms)));
const alive = (s: TestServer) => s.process.exitCode === null && s.process.signalCode === null;

function exitDescription(s: TestServer): string {
  const lastLine = s.stderr().trim().split('\n').find((l) => /Error|error:/.test(l)) ?? '';
  return `exited (${s.process.signalCode ?? `code ${s.process.exitCode}`})${lastLine ? `: ${lastLine.trim().slice(0, 120)}` : ''}`;
}

async function stopQuietly(s: TestServer | undefined): Promise<void> {
  if (!s || !alive(s)) return;
  const exited = new Promise((r) => s.process.once('exit', r));
  s.process.kill('SIGKILL');
  await exited;
}

/** After an attack: alive, /healthz 200, and a good gRPC answer correct, each within bounds. */
async function upCheck(s: TestServer, photo: Photo, ref: Reference, deadlineMs: number): Promise<string> {
  if (!alive(s)) return `no: ${exitDescription(s)}`;
  try {
    const res = await fetch(`${s.baseUrl}/healthz`, { signal: AbortSignal.timeout(5000) });
    if (res.status !== 200) return `no: /healthz answered ${res.status}`;
  } catch (err) {
    return alive(s) ? `no: stalled (/healthz: ${(err as Error).message})` : `no: ${exitDescription(s)}`;
  }
  const client = new FaceGrpcClient(s.address);
  try {
    const res = await client.extract({ images: [{ data: photo.data }], options: { maxSize: 640 } }, { metadata: AUTH, deadline: deadlineMs });
    const why = mismatch(ref, res.results[0].faces.map((f) => f.embedding));
    return why ? `no: wrong answer afterwards (${why})` : 'yes';
  } catch (err) {
    return alive(s) ? `no: stalled (good request: ${(err as Error).message.slice(0, 80)})` : `no: ${exitDescription(s)}`;
  } finally {
    client.close();
  }
}

export async function runChaos(o: ChaosOptions): Promise<ChaosReport> {
  const log = o.log ?? (() => undefined);
  const pace = PACE[o.scale];
  const started = Date.now();
  const photos = goodPhotos();
  let server: TestServer | undefined;
  let serverEnv = '';
  const results: AttackResult[] = [];
  let good: GoodClients | undefined;
  const fresh = async (env: Record<string, string>) => {
    await stopQuietly(server);
    server = await startServer(env);
    serverEnv = JSON.stringify(env);
    return server;
  };
  try {
    const refs = await quietReferences((await fresh(CHAOS_SERVER_ENV)).address, photos, AUTH);
    good = new GoodClients({ photos, refs });
    for (const attack of runOrder(o.attacks, o.scale)) {
      const env = { ...CHAOS_SERVER_ENV, ...attack.env };
      let result: AttackResult;
      try {
        // The full round gives every attack its own server, so that its RSS figures are its own.
        if (o.scale === 'full' || !server || !alive(server) || serverEnv !== JSON.stringify(env)) await fresh(env);
        result = await runOne(attack, server!, o, photos, refs, good, pace);
      } catch (err) {
        result = notRun(attack, o.scale, `no: ${(err as Error).message.slice(0, 200)}`);
      }
      results.push(result);
      log(`${attack.name}: ${result.up === 'yes' ? 'up' : result.up}; good ${result.good.correct}/${result.good.sent}`
        + `${result.unexpected.length ? `; ${result.unexpected.length} unexpected` : ''}`);
      if (result.up !== 'yes') await stopQuietly(server);
    }
  } finally {
    await good?.close();
    if (server && alive(server)) await server.stop();
  }
  return { scale: o.scale, rssCapMb: o.rssCapMb, seconds: (Date.now() - started) / 1000, results };
}

/**
 * The quick round shares one server between attacks, so attacks with the same environment run
 * together (each change of environment is a restart); the server-stopping attack goes last.
 * The full round keeps the issue's order: every attack has a server of its own there.
 */
function runOrder(attacks: Attack[], scale: Scale): Attack[] {
  if (scale === 'full') return attacks;
  const key = (a: Attack) => `${a.stopsServer ? 1 : 0}${a.env ? JSON.stringify(a.env) : ''}`;
  const groups = new Map<string, Attack[]>();
  for (const a of attacks) groups.set(key(a), [...(groups.get(key(a)) ?? []), a]);
  return [...groups.keys()].sort().flatMap((k) => groups.get(k)!);
}

const emptyTally = (): GoodTally => ({ sent: 0, correct: 0, refused: 0, failures: [], byProtocol: {}, latencyMs: { p50: 0, max: 0 } });

function notRun(attack: Attack, scale: Scale, up: string): AttackResult {
  return {
    name: attack.name, issue: attack.issue, scale, seconds: 0, sent: 0, up, good: emptyTally(),
    refusalsAllowed: false, stopsServer: false, goodTraffic: false, unexpected: [], notes: [], internalErrors: 0, rssMb: { before: 0, peak: 0, after: 0 },
  };
}

async function runOne(attack: Attack, server: TestServer, o: ChaosOptions, photos: Photo[], refs: Map<string, Reference>,
  good: GoodClients, pace: (typeof PACE)[Scale]): Promise<AttackResult> {
  const goodTraffic = !attack.stopsServer && !attack.quiet;
  // Before any timer or sampler of the attack exists: a thread that fails to start leaves nothing running.
  if (goodTraffic) {
    await good.start({ baseUrl: server.baseUrl, address: server.address, auth: AUTH, pauseMs: pace.pauseMs, deadlineMs: pace.goodDeadlineMs });
  }
  const start = Date.now();
  const seconds = attack.seconds[o.scale];
  const deadline = start + seconds * 1000;
  const stop = new AbortController();
  // Every request of an attack listens to it (and lets go when it ends).
  setMaxListeners(0, stop.signal);
  const timer = setTimeout(() => stop.abort(new Error('deadline')), seconds * 1000);
  const pid = server.process.pid!;
  const logsBefore = server.logs().length;
  const rssBefore = rssMb(pid) ?? 0;
  let guard: string | undefined;
  const sampler = new RssSampler(pid, 100, (mb) => {
    if (mb <= o.rssCapMb || guard) return;
    // The unfixed server can take 12 GB of a shared machine on the big-image cases: stop it here.
    guard = `killed by the memory guard at ${mb.toFixed(0)} MB (cap ${o.rssCapMb} MB)`;
    stop.abort(new Error('memory guard'));
    server.process.kill('SIGKILL');
  });
  const result: AttackResult = {
    name: attack.name, issue: attack.issue, scale: o.scale, seconds: 0, sent: 0, up: '',
    good: emptyTally(), refusalsAllowed: Boolean(attack.overloads),
    stopsServer: Boolean(attack.stopsServer), goodTraffic, unexpected: [], notes: [], internalErrors: 0,
    rssMb: { before: rssBefore, peak: 0, after: 0 },
  };
  const tracked: ({ destroy(): unknown } | { close(): unknown })[] = [];
  const ctx: AttackContext = {
    server, port: server.port, baseUrl: server.baseUrl, address: server.address, scale: o.scale,
    pick: (quick, full) => (o.scale === 'quick' ? quick : full),
    deadline, signal: stop.signal,
    left: () => (stop.signal.aborted ? 0 : Math.max(0, deadline - Date.now())),
    sleep: (ms) => new Promise<void>((resolve) => {
      if (stop.signal.aborted || ms <= 0) return resolve();
      const t = setTimeout(done, Math.min(ms, Math.max(0, deadline - Date.now())));
      function done() {
        clearTimeout(t);
        stop.signal.removeEventListener('abort', done);
        resolve();
      }
      stop.signal.addEventListener('abort', done, { once: true });
    }),
    sent: (n = 1) => { result.sent += n; },
    expect: (ok, what) => { if (!ok && result.unexpected.length < 20) result.unexpected.push(what); },
    note: (text) => { if (result.notes.length < 20) result.notes.push(text); },
    track: (r) => {
      tracked.push(r);
      return r;
    },
    apiKey: CHAOS_API_KEY,
    auth: AUTH,
    rssMb: () => rssMb(pid) ?? 0,
    rssPeakMb: () => Math.max(sampler.peak, rssMb(pid) ?? 0),
    logs: () => server.logs().slice(logsBefore),
    goodLatencies: () => (goodTraffic ? [...good.latencies] : []),
  };
  try {
    let overran: NodeJS.Timeout | undefined;
    await Promise.race([
      attack.run(ctx),
      new Promise((_, reject) => {
        overran = setTimeout(() => reject(new Error(`did not stop within ${OVERRUN_MS / 1000} s of its deadline`)), seconds * 1000 + OVERRUN_MS);
      }),
    ]).finally(() => clearTimeout(overran));
  } catch (err) {
    if (!guard) result.attackError = (err as Error).stack?.split('\n').slice(0, 3).join(' | ') ?? String(err);
  }
  clearTimeout(timer);
  stop.abort(new Error('attack ended'));
  for (const r of tracked) {
    try {
      if ('destroy' in r) r.destroy();
      else r.close();
    } catch { /* already gone */ }
  }
  if (goodTraffic) result.good = await good.stop();
  await sleep(pace.settleMs);
  const refPhoto = photos[0];
  const up = attack.stopsServer ? 'n/a (the attack stops the server)'
    : await upCheck(server, refPhoto, refs.get(refPhoto.name)!, pace.goodDeadlineMs);
  // The guard may fire after the attack, while the server is still working on what it was sent.
  result.up = guard ? `no: ${guard}` : up;
  result.rssMb.after = rssMb(pid) ?? 0;
  result.rssMb.peak = Math.max(sampler.stop(), result.rssMb.after);
  // Error-level lines are internal failures ('internal error', '<what> failed'): a client,
  // however hostile, must not cause one, unless the attack's subject is one (a stuck task).
  const errors = server.logs().slice(logsBefore)
    .filter((l) => Number(l.level) >= 50 && !attack.expectedErrorLogs?.test(String(l.msg)));
  result.internalErrors = errors.length;
  if (errors.length > 0 && !guard) {
    const first = errors[0] as { msg?: string; err?: { message?: string } };
    ctx.expect(false, `no error in the server's log: ${errors.length} logged (first: "${first.msg}": ${first.err?.message?.slice(0, 100) ?? '?'})`);
  }
  result.seconds = (Date.now() - start) / 1000;
  return result;
}
