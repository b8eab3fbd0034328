/**
 * A fresh machine without Chromium: the browser suite (web-page.test.ts) is skipped locally with
 * one line that says how to install it, and fails under CI. Checked by running that suite as a
 * child process with FACEREST_CHROMIUM pointing at a path that does not exist, so the real
 * browser need not be uninstalled.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { PROJECT_ROOT } from '../models/packs/paths.js';

const MISSING = '/nonexistent/facerest-test/chromium';

function runBrowserSuite(ci: string | undefined) {
  const env: NodeJS.ProcessEnv = { ...process.env, FACEREST_CHROMIUM: MISSING };
  // Inside `node --test` this variable would make the child report to us instead of printing.
  delete env.NODE_TEST_CONTEXT;
  delete env.CI;
  if (ci !== undefined) env.CI = ci;
  const run = spawnSync(process.execPath, ['--test', '--test-reporter=tap', join(PROJECT_ROOT, 'dist/test/web-page.test.js')], {
    env, encoding: 'utf8', timeout: 60_000,
  });
  return { status: run.status, output: `${run.stdout}${run.stderr}` };
}

describe('browser suites on a machine without Chromium', () => {
  it('are skipped locally, with one line that says how to install it', () => {
    const { status, output } = runBrowserSuite(undefined);
    assert.equal(status, 0, output);
    const lines = output.split('\n').filter((l) => l.includes('apt-get install chromium'));
    assert.equal(lines.length, 1, output);
    assert.match(lines[0], /# SKIP Chromium not found at \/nonexistent\/facerest-test\/chromium/);
    assert.match(output, /^# fail 0$/m);
    assert.match(output, /^# tests 0$/m, 'no browser test ran');
  });

  it('fail under CI=true, naming the missing browser', () => {
    const { status, output } = runBrowserSuite('true');
    assert.notEqual(status, 0, output);
    assert.match(output, /Chromium not found at \/nonexistent\/facerest-test\/chromium: install it with `apt-get install chromium`/);
    assert.doesNotMatch(output, /# SKIP/);
  });
});
