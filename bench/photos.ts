/** The benchmark's photo set: the real portraits and group shots of ../shared/faces. */
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import sharp from 'sharp';
import { PROJECT_ROOT } from '../models/packs/paths.js';

export const SHARED = resolve(PROJECT_ROOT, '..', 'shared');

export function benchPhotos(): { name: string; data: Buffer }[] {
  const dir = join(SHARED, 'faces', 'deepface');
  const portraits = readdirSync(dir).filter((f) => /^img\d+\.jpg$/.test(f)).sort().map((f) => join(dir, f));
  const groups = [1, 2, 3, 4, 5].map((i) => join(SHARED, 'faces', 'face-api.js', 'examples', 'images', `bbt${i}.jpg`));
  return [...portraits, ...groups].map((p) => ({ name: p.slice(SHARED.length + 1), data: readFileSync(p) }));
}

/**
 * The photos re-encoded once as JPEGs of at most `maxSide` px (quality 90), as clients that resize
 * before sending: the "640-px set" of the bench, the tests and the studies.
 */
export async function benchPhotosAt(maxSide: number): Promise<{ name: string; data: Buffer }[]> {
  return Promise.all(benchPhotos().map(async (p) => ({
    name: p.name,
    data: await sharp(p.data).rotate().resize(maxSide, maxSide, { fit: 'inside', withoutEnlargement: true }).jpeg({ quality: 90 }).toBuffer(),
  })));
}
