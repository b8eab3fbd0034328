/**
 * libjpeg-turbo's own decode time, the reference of issue 14's decode target: `tjbench` (Debian's
 * libjpeg-turbo-progs) decoding a JPEG file at a DCT scale of 1/k, in CPU ms a decode.
 */
import { execFileSync } from 'node:child_process';

/** How long tjbench decodes, again and again, for one figure. */
const BENCH_S = 0.5;

/**
 * tjbench's CPU time (bash's `times` for its child) over the frames it decoded (its frame rate x
 * its bench time). Its own figure is wall-clock, which on a shared machine counts the time it
 * waited for a core (under load, 0.97 ms a frame against 0.46 ms of CPU for a 600x417 JPEG).
 */
export function tjbenchMs(path: string, k: number): number {
  const out = execFileSync('bash', ['-c', `tjbench "$0" -scale 1/${k} -benchtime ${BENCH_S} -warmup 0 -nowrite; times`, path], { encoding: 'utf8' });
  const fps = Number(/Decompress\s+--> Frame rate:\s+([\d.]+)/.exec(out)?.[1]);
  const times = [...out.trim().split('\n').pop()!.matchAll(/(\d+)m([\d.]+)s/g)].map((m) => Number(m[1]) * 60 + Number(m[2]));
  return ((times[0] + times[1]) * 1000) / (fps * BENCH_S);
}
