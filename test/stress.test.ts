/**
 * The short rounds of `npm run fuzz` and `npm run loadtest`, against real servers.
 * Measured on this 2-core machine (2 workers, so a 64-image admission queue): capacity 31 to 37
 * photos/s, admitted p99 2.5 to 3.3 s, server RSS peak about 790 MB. An admitted photo waits at
 * most for the queue ahead of it, 64 / capacity seconds; the latency bound below is twice that
 * plus a second, so it scales with the machine's speed.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fuzz } from '../stress/fuzz.js';
import { loadTest } from '../stress/loadtest.js';
import { serverWithClient } from './helpers/server.js';

describe('fuzz (short round)', () => {
  const fx = serverWithClient();

  it('mutated JPEGs and PNGs: every answer well-formed, no hang, the server stays up', async (t) => {
    const report = await fuzz(fx.server.baseUrl, fx.server.address, 160, 1);
    t.diagnostic(`${report.images} images: ${report.refused} refused, ${report.decoded} decoded`);
    assert.deepEqual(report.failures, []);
    assert.ok(report.refused > 0 && report.decoded > 0, 'the mutations hit both ways');
    assert.equal(fx.server.process.exitCode, null);
  });
});

describe('load test (short round)', () => {
  const fx = serverWithClient();

  it('at twice the capacity: refusals instead of pile-up, every admitted request right, latency and memory bounded', async (t) => {
    const report = await loadTest({
      address: fx.server.address, pid: fx.server.process.pid!, calibrateSeconds: 3, seconds: 6, factor: 2,
    });
    t.diagnostic(JSON.stringify({ ...report, failures: undefined }));
    assert.ok(report.server_alive);
    assert.deepEqual(report.failures, []);
    assert.equal(report.wrong, 0);
    assert.ok(report.ok > 0);
    assert.ok(report.refused > 0, 'overload was refused');
    const queueSeconds = 64 / report.capacity_images_per_s;
    assert.ok(report.p99_ms < (2 * queueSeconds + 1) * 1000, `admitted p99 ${report.p99_ms} ms, queue ${queueSeconds} s`);
    assert.ok(report.rss_peak_mb < 1500, `server RSS peak ${report.rss_peak_mb} MB`);
  });
});
