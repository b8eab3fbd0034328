/** Fetches any pack into models/weights/<name>, unless it is already there and verified. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packDir, type Pack } from '../catalog.js';
import { installPack, isPackCached } from './install.js';
import { extractNpmPack } from './npm-pack.js';
import { extractZipPack, type ZipOptions } from './zip-pack.js';

export async function fetchPack(pack: Pack, log: (line: string) => void, options: ZipOptions = {}): Promise<string> {
  if (await isPackCached(pack)) {
    log(`pack '${pack.name}': cached and verified in ${packDir(pack)}`);
    return packDir(pack);
  }
  const work = await mkdtemp(join(tmpdir(), 'facerest-pack-'));
  try {
    const extracted = pack.kind === 'npm'
      ? await extractNpmPack(pack, work, log)
      : await extractZipPack(pack, work, log, options);
    const target = await installPack(pack, extracted);
    log(`pack '${pack.name}': ${pack.files.length} models verified and installed in ${target} (${pack.license})`);
    return target;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
