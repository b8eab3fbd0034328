/**
 * `npm run chaos [-- --scale quick|full] [--only NAME[,NAME]] [--json FILE] [--rss-cap-mb 4096] [--list]`:
 * the regression suite of issue 10. Starts the real server on 127.0.0.1 and runs every attack of
 * the issue against it (stress/chaos/attacks/), one at a time, each bounded in count and time,
 * while good clients on every protocol check that each answer stays correct. Prints a table and
 * exits 1 if any attack left the server down, got a good answer wrong, or was answered other
 * than the issue says. `npm test` runs the quick round (test/chaos.test.ts).
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { ATTACKS } from './chaos/attacks/index.js';
import { formatReport } from './chaos/report.js';
import { runChaos } from './chaos/runner.js';
import { passed, type Scale } from './chaos/types.js';

const { values } = parseArgs({
  options: {
    scale: { type: 'string', default: 'full' },
    only: { type: 'string', multiple: true },
    json: { type: 'string' },
    'rss-cap-mb': { type: 'string', default: '4096' },
    list: { type: 'boolean', default: false },
  },
});
if (values.list) {
  for (const a of ATTACKS) console.log(`${a.name.padEnd(34)} issue ${a.issue}`);
  process.exit(0);
}
const scale = values.scale as Scale;
if (scale !== 'quick' && scale !== 'full') throw new Error(`--scale must be quick or full, not ${values.scale}`);
const only = (values.only ?? []).flatMap((o) => o.split(',')).map((o) => o.trim()).filter(Boolean);
const unknown = only.filter((n) => !ATTACKS.some((a) => a.name === n));
if (unknown.length) {
  console.error(`unknown attack ${unknown.join(', ')}; see --list`);
  process.exit(2);
}
const attacks = only.length ? ATTACKS.filter((a) => only.includes(a.name)) : ATTACKS;
const report = await runChaos({
  attacks, scale, rssCapMb: Number(values['rss-cap-mb']), log: (line) => console.error(`chaos: ${line}`),
});
console.log(formatReport(report));
if (values.json) writeFileSync(values.json, `${JSON.stringify(report, null, 2)}\n`);
process.exit(report.results.every(passed) ? 0 : 1);
