/**
 * The browser suites drive Debian's Chromium (playwright-core never downloads one). On a
 * developer's machine without it they are skipped with one line saying how to install it; under
 * CI (CI=true) a missing browser is a failure, so a broken CI image cannot pass by skipping.
 * FACEREST_CHROMIUM points at another binary (the tests of this helper use a missing path).
 */
import { existsSync } from 'node:fs';
import { underCi } from './ci.js';

export const CHROMIUM = process.env.FACEREST_CHROMIUM || '/usr/bin/chromium';

const missing = () => `Chromium not found at ${CHROMIUM}: install it with \`apt-get install chromium\``;

/**
 * Options for the browser suite's describe(): skipped, with the reason, when Chromium is missing
 * outside CI; otherwise run (and `requireChromium` fails it under CI).
 */
export function browserSuiteOptions(): { skip?: string } {
  if (existsSync(CHROMIUM) || underCi()) return {};
  return { skip: `${missing()} (browser tests skipped; under CI=true they fail)` };
}

/** The path to launch; throws (failing the suite) when it is missing, which only happens under CI. */
export function requireChromium(): string {
  if (!existsSync(CHROMIUM)) throw new Error(`${missing()} (CI=true: a missing browser fails the browser tests)`);
  return CHROMIUM;
}
