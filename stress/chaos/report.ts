/** The chaos suite's results as a Markdown table, then what went wrong in each failing row. */
import type { ChaosReport } from './runner.js';
import { passed, type AttackResult } from './types.js';

const mb = (n: number) => n.toFixed(0);

function goodCell(r: AttackResult): string {
  if (!r.goodTraffic) return 'n/a';
  const refused = r.good.refused ? ` (${r.good.refused} refused${r.refusalsAllowed ? ', allowed' : ''})` : '';
  return `${r.good.correct}/${r.good.sent}${refused}`;
}

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
