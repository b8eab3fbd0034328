/** HTTP download to a file, hashing as it goes, with progress and errors a user can act on. */
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';

export type Progress = (received: number, total: number | undefined) => void;

export interface Downloaded {
  bytes: number;
  sha256: string;
}

function networkReason(err: Error): string {
  const cause = (err as Error & { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? err.message;
}

export async function download(url: string, dest: string, onProgress: Progress = () => undefined): Promise<Downloaded> {
  let res: Response;
  try {
    res = await fetch(url, { redirect: 'follow' });
  } catch (err) {
    throw new Error(`cannot download ${url}: ${networkReason(err as Error)} (offline, or the host unreachable?)`);
  }
  if (!res.ok || !res.body) throw new Error(`cannot download ${url}: HTTP ${res.status} ${res.statusText}`);
  const declared = Number(res.headers.get('content-length'));
  const total = Number.isFinite(declared) && declared > 0 ? declared : undefined;
  const hash = createHash('sha256');
  const file = createWriteStream(dest);
  let received = 0;
  try {
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      received += chunk.length;
      hash.update(chunk);
      if (!file.write(chunk)) await once(file, 'drain');
      onProgress(received, total);
    }
  } catch (err) {
    throw new Error(`download of ${url} interrupted after ${received}${total ? ` of ${total}` : ''} bytes: `
      + networkReason(err as Error));
  } finally {
    file.end();
    await once(file, 'close');
  }
  if (total !== undefined && received !== total) {
    throw new Error(`download of ${url} interrupted after ${received} of ${total} bytes`);
  }
  return { bytes: received, sha256: hash.digest('hex') };
}

/** A progress bar on a terminal; a line every 25% otherwise (logs stay readable). */
export function progressBar(label: string, stream: NodeJS.WriteStream = process.stderr): Progress {
  let lastQuarter = -1;
  let lastDraw = 0;
  const mb = (n: number) => (n / 1e6).toFixed(1);
  return (received, total) => {
    const fraction = total ? received / total : 0;
    if (stream.isTTY) {
      const now = Date.now();
      if (now - lastDraw < 100 && received !== total) return;
      lastDraw = now;
      const width = 30;
      const filled = Math.round(fraction * width);
      const bar = total ? `[${'#'.repeat(filled)}${' '.repeat(width - filled)}] ${(100 * fraction).toFixed(0)}% ` : '';
      stream.write(`\r${label} ${bar}${mb(received)}${total ? `/${mb(total)}` : ''} MB`);
      if (total && received === total) stream.write('\n');
    } else if (total) {
      const quarter = Math.floor(fraction * 4);
      if (quarter > lastQuarter) {
        lastQuarter = quarter;
        stream.write(`${label} ${25 * quarter}% of ${mb(total)} MB\n`);
      }
    }
  };
}
