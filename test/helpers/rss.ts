/** A process's resident memory, read from /proc (Linux), for tests and the chaos suite. */
import { readFileSync } from 'node:fs';

/** Resident set size of `pid` in MB, or undefined once the process is gone. */
export function rssMb(pid: number): number | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = /VmRSS:\s+(\d+)/.exec(status)?.[1];
    return kb === undefined ? undefined : Number(kb) / 1024;
  } catch {
    return undefined;
  }
}

/**
 * Samples `pid`'s RSS every `everyMs` and keeps the peak; `onSample` sees each value (the chaos
 * suite's memory guard acts there).
 */
export class RssSampler {
  peak = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly pid: number, everyMs = 100, onSample?: (mb: number) => void) {
    const sample = () => {
      const mb = rssMb(this.pid);
      if (mb === undefined) return;
      this.peak = Math.max(this.peak, mb);
      onSample?.(mb);
    };
    sample();
    this.timer = setInterval(sample, everyMs);
  }

  stop(): number {
    clearInterval(this.timer);
    return this.peak;
  }
}
