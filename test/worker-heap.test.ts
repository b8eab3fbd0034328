/**
 * FACEREST_WORKER_OLD_SPACE_MB: the old-generation room each inference worker's V8 heap starts
 * with (server/pool/worker-pool.ts). What it buys is measured by `npm run bench`
 * (bench/throughput-history.md, round three), not here: a test cannot time it honestly.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadConfig } from '../server/config.js';
import { DEFAULT_WORKER_OLD_SPACE_MB } from '../server/pool/worker-pool.js';

describe('worker heap setting', () => {
  it('defaults to 64 MB, takes 0 for V8\'s own default, and refuses what is not a whole number in range', () => {
    assert.equal(DEFAULT_WORKER_OLD_SPACE_MB, 64);
    assert.equal(loadConfig({}).workerOldSpaceMb, 64);
    assert.equal(loadConfig({ FACEREST_WORKER_OLD_SPACE_MB: '0' }).workerOldSpaceMb, 0);
    assert.equal(loadConfig({ FACEREST_WORKER_OLD_SPACE_MB: '256' }).workerOldSpaceMb, 256);
    for (const bad of ['-1', '1.5', 'lots', '70000']) {
      assert.throws(() => loadConfig({ FACEREST_WORKER_OLD_SPACE_MB: bad }), /FACEREST_WORKER_OLD_SPACE_MB must be an integer from 0 to 65536/);
    }
  });
});
