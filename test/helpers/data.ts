/** Paths to the shared real photos (../shared beside the project root). */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { PROJECT_ROOT } from '../../models/packs/paths.js';

export const SHARED = resolve(PROJECT_ROOT, '..', 'shared');
export const sharedPath = (...parts: string[]) => join(SHARED, ...parts);
export const readShared = (...parts: string[]) => readFileSync(sharedPath(...parts));

export const BBT = [1, 2, 3, 4, 5].map((i) => `face-api.js/examples/images/bbt${i}.jpg`);
export const readFace = (rel: string) => readShared('faces', rel);

/** Rows of a small CSV file with a header line. */
export function readCsv(...parts: string[]): Record<string, string>[] {
  const [header, ...rows] = readFileSync(sharedPath(...parts), 'utf8').trim().split(/\r?\n/);
  const keys = header.split(',');
  return rows.map((r) => Object.fromEntries(r.split(',').map((v, i) => [keys[i], v])));
}
