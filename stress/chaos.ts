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
import { pathToFileURL } from 'node:url';
import { ATTACKS } from './chaos/attacks/index.js';
import { runChaos, type ChaosReport } from './chaos/runner.js';
import { passed, type AttackResult, type Scale } from './chaos/types.js';

const mb = (n: number) => n.toFixed(0);

function goodCell(r: AttackResult): string {
  if (!r.goodTraffic) return 'n/a';
  const refused = r.good.refused ? ` (${r.good.refused} refused${r.refusalsAllowed ? ', allowed' : ''})` : '';
  return `${r.good.correct}/${r.good.sent}${refused}`;
}

/** The results as a Markdown table, then what went wrong in each failing row. */
export function formatReport(report: ChaosReport): string {
  const rows = report.results.map((r) => [
    r.name, r.issue, String(r.sent), r.up.startsWith('yes') ? 'yes' : r.stopsServer ? 'n/a' : 'no', goodCell(r),
    r.unexpected.length ? `no (${r.unexpected.length})` : 'yes',
    `${mb(r.rssMb.before)} / ${mb(r.rssMb.peak)} / ${mb(r.rssMb.after)}`, r.seconds.toFixed(1), passed(r) ? 'pass' : 'FAIL',
  ]);
  const head = ['attack', 'issue', 'sent', 'server up', 'good answers correct', 'answered as the issue says',
    'RSS MB before / peak / after', 's', 'verdict'];
  const lines = [head, head.map(() => '---'), ...rows].map((cells) => `| ${cells.join(' | ')} |`);
  const failing = report.results.filter((r) => !passed(r) || r.notes.length);
  const details = failing.flatMap((r) => [
    `- ${r.name}${passed(r) ? '' : ' (FAIL)'}:`,
    ...(r.up.startsWith('yes') || r.stopsServer ? [] : [`    server: ${r.up}`]),
    ...r.unexpected.map((u) => `    unexpected: ${u}`),
    ...r.good.failures.slice(0, 3).map((f) => `    good client: ${f}`),
    ...(r.attackError ? [`    attack error: ${r.attackError}`] : []),
    ...r.notes.map((n) => `    note: ${n}`),
  ]);
  const passCount = report.results.filter(passed).length;
  return [
    ...lines, '',
    `${passCount} of ${report.results.length} attacks passed (${report.scale} round, ${report.seconds.toFixed(0)} s, memory guard ${report.rssCapMb} MB)`,
    ...(details.length ? ['', ...details] : []),
  ].join('\n');
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
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
}
