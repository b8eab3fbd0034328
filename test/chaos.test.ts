/**
 * The quick round of `npm run chaos` (stress/chaos.ts): every attack of issue 10 against the
 * real server on 127.0.0.1, at a small scale, with good clients on every protocol alongside.
 * One test per attack: the server is up afterwards, every good answer is correct (same faces,
 * embeddings within cosine 0.999 of a quiet server's), and the server answered the attack the
 * way the issue says. The table goes to the test's diagnostics.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { ATTACKS } from '../stress/chaos/attacks/index.js';
import { runChaos, type ChaosReport } from '../stress/chaos/runner.js';
import { formatReport } from '../stress/chaos/report.js';

describe('chaos: the quick round', () => {
  let report: ChaosReport;
  before(async () => {
    report = await runChaos({ attacks: ATTACKS, scale: 'quick', rssCapMb: 4096 });
    for (const line of formatReport(report).split('\n')) console.log(`# ${line}`);
  });

  for (const attack of ATTACKS) {
    it(attack.name, () => {
      const r = report.results.find((x) => x.name === attack.name);
      assert.ok(r, 'ran');
      assert.equal(r.attackError, undefined, `the attack itself failed: ${r.attackError}`);
      if (!r.stopsServer) assert.equal(r.up, 'yes', 'server up afterwards');
      if (r.goodTraffic) {
        const allowed = r.refusalsAllowed ? r.good.refused : 0;
        assert.ok(r.good.sent > 0, 'good requests ran');
        assert.equal(r.good.correct + allowed, r.good.sent,
          `good answers correct: ${r.good.correct} of ${r.good.sent}; ${r.good.failures.slice(0, 3).join('; ')}`);
      }
      assert.deepEqual(r.unexpected, [], 'answered as the issue says');
    });
  }
});
