import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The project root: the nearest folder above this module that holds package.json. */
function findRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error('facerest: package.json not found above ' + import.meta.url);
    dir = parent;
  }
  return dir;
}

export const PROJECT_ROOT = findRoot();

/** Where fetched packs are cached (git-ignored). FACEREST_MODELS_DIR moves it. */
export function weightsDir(): string {
  return resolve(process.env.FACEREST_MODELS_DIR ?? join(PROJECT_ROOT, 'models', 'weights'));
}
