/** The last step of every pack fetch: verified files into the pack folder in one rename. */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { access, chmod, copyFile, mkdir, mkdtemp, rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { packDir, type Pack } from '../catalog.js';

export async function sha256Of(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** True when every file of the pack is cached, with the right checksum where one is known. */
export async function isPackCached(pack: Pack): Promise<boolean> {
  const dir = packDir(pack);
  for (const f of pack.files) {
    const path = join(dir, f.file);
    try {
      if (!f.sha256) await access(path);
      else if ((await sha256Of(path)) !== f.sha256) return false;
    } catch {
      return false;
    }
  }
  return true;
}

/**
 * Checks each extracted file (`extracted[i]` is the path of `pack.files[i]`) and swaps the
 * pack folder in atomically: staged beside the target on the same file system, then renamed,
 * so a failure at any point leaves the previous folder (or none) untouched.
 */
export async function installPack(pack: Pack, extracted: string[]): Promise<string> {
  const target = packDir(pack);
  await mkdir(dirname(target), { recursive: true });
  const staging = await mkdtemp(`${target}.partial-`);
  try {
    await chmod(staging, 0o755);
    for (const [i, f] of pack.files.entries()) {
      if (f.sha256) {
        const sum = await sha256Of(extracted[i]);
        if (sum !== f.sha256) throw new Error(`pack '${pack.name}': ${f.source} has sha256 ${sum}, expected ${f.sha256}`);
      }
      await copyFile(extracted[i], join(staging, f.file));
    }
    await rm(target, { recursive: true, force: true });
    await rename(staging, target);
    return target;
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}
