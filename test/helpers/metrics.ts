/** Reading the server's Prometheus metrics in tests. */

/** The sum of a metric's samples whose labels include all of `labels`. */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})?\s+(\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) sum += Number(m[3]);
  }
  return sum;
}

export async function scrape(baseUrl: string): Promise<string> {
  const res = await fetch(`${baseUrl}/metrics`);
  if (res.status !== 200) throw new Error(`/metrics answered ${res.status}`);
  return res.text();
}

/** Polls until `check` passes or `ms` elapse; returns the last metrics text. */
export async function eventually(baseUrl: string, check: (text: string) => boolean, ms = 5000): Promise<string> {
  const until = Date.now() + ms;
  for (;;) {
    const text = await scrape(baseUrl);
    if (check(text) || Date.now() > until) return text;
    await new Promise((r) => setTimeout(r, 100));
  }
}
