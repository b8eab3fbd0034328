/** The shapes shared by the chaos suite's runner and its attacks. */
import type { TestServer } from '../../test/helpers/server.js';

export type Scale = 'quick' | 'full';

/** What an attack gets from the runner. Everything it opens goes through `track` or ends by `deadline`. */
export interface AttackContext {
  server: TestServer;
  port: number;
  /** http://127.0.0.1:PORT */
  baseUrl: string;
  /** 127.0.0.1:PORT */
  address: string;
  scale: Scale;
  /** The quick value in the npm test round, the full one in `npm run chaos`. */
  pick<T>(quick: T, full: T): T;
  /** Epoch ms by which run() must have returned. */
  deadline: number;
  /** Aborted at the deadline, or early by the memory guard. */
  signal: AbortSignal;
  /** Ms left before the deadline (0 when past it or aborted). */
  left(): number;
  /** Waits `ms`, or less if the attack is aborted. */
  sleep(ms: number): Promise<void>;
  /** Counts requests (or connections, frames, messages: whatever the attack's unit is) sent. */
  sent(n?: number): void;
  /** Records a broken expectation when `ok` is false: what the issue says the server must answer. */
  expect(ok: boolean, what: string): void;
  /** A line for the report (what was measured, e.g. how many connections the server closed). */
  note(text: string): void;
  /** Registers something to destroy when the attack ends, whatever happened. */
  track<T extends { destroy(): unknown } | { close(): unknown }>(resource: T): T;
  /** The API key the chaos server is started with; attacks that are not about keys send it. */
  apiKey: string;
  /** { authorization: 'Bearer <apiKey>' } */
  auth: Record<string, string>;
  /** The server's resident memory now, in MB (0 once it is gone). */
  rssMb(): number;
  /** The highest it has been since the attack began (sampled every 100 ms). */
  rssPeakMb(): number;
  /** The server's log lines written since the attack began. */
  logs(): Record<string, unknown>[];
  /** The good clients' answer times so far in this attack, in ms (empty for quiet attacks). */
  goodLatencies(): number[];
}

export interface Attack {
  name: string;
  /** Where the issue names it: "1", "14", "§2". */
  issue: string;
  /** Time given to the attack, in seconds, per scale. */
  seconds: Record<Scale, number>;
  /**
   * The attack itself sends more unary work than the server's queue holds (overload is its
   * subject), so the good clients' refusals with a retry hint are allowed during it.
   */
  overloads?: boolean;
  /** The attack ends the server itself (SIGTERM); it is judged by its expectations, not by staying up. */
  stopsServer?: boolean;
  /** Why no good traffic runs beside this attack (it would hide the defect); it checks its own answers. */
  quiet?: string;
  /** Extra server environment for this attack (the runner starts a server with it). */
  env?: Record<string, string>;
  /**
   * Server log lines at level error that this attack provokes on purpose (matched against
   * `msg`); any other error line is a broken expectation.
   */
  expectedErrorLogs?: RegExp;
  run(ctx: AttackContext): Promise<void>;
}

export interface GoodTally {
  sent: number;
  correct: number;
  /** Refused with a retry hint (429 / RESOURCE_EXHAUSTED / UNAVAILABLE). */
  refused: number;
  /** Up to 10 descriptions of answers that were wrong or failed. */
  failures: string[];
  /** Per protocol (gRPC, Connect/1.1, gRPC-Web/2, REST): sent and correct. */
  byProtocol: Record<string, { sent: number; correct: number }>;
  /** Time to a correct answer, ms: median and slowest (0 when none). */
  latencyMs: { p50: number; max: number };
}

export interface AttackResult {
  name: string;
  issue: string;
  scale: Scale;
  seconds: number;
  sent: number;
  /** 'yes', or why not: 'no: exited (code 1)', 'no: stalled', 'no: killed by the memory guard at 4120 MB'. */
  up: string;
  good: GoodTally;
  /** Whether good clients' refusals count as correct during this attack (Attack.overloads). */
  refusalsAllowed: boolean;
  /** Attack.stopsServer: staying up is not asked. */
  stopsServer: boolean;
  /** Whether good traffic ran (not for Attack.quiet or Attack.stopsServer). */
  goodTraffic: boolean;
  /** Broken expectations (empty when the server answered as the issue says it must). */
  unexpected: string[];
  notes: string[];
  /** Log lines the server wrote at level error or above during the attack (not the expected ones). */
  internalErrors: number;
  rssMb: { before: number; peak: number; after: number };
  /** The attack's own failure (a bug in the attack, or it overran its deadline). */
  attackError?: string;
}

/** Whether the row passes: server up, every good answer correct, every expectation met. */
export function passed(r: AttackResult): boolean {
  const goodOk = !r.goodTraffic || (r.good.correct + (r.refusalsAllowed ? r.good.refused : 0) === r.good.sent && r.good.sent > 0);
  const upOk = r.stopsServer || r.up.startsWith('yes');
  return upOk && goodOk && r.unexpected.length === 0 && !r.attackError;
}
