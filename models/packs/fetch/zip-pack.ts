/**
 * Fetches a pack published as a zip (InsightFace's model packs): download, check the archive's
 * sha256, extract the files the pack uses (found by name anywhere in the zip).
 */
import { unzipSync } from 'fflate';
import { readFile, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { ZipPack } from '../catalog.js';
import { download, progressBar, type Progress } from './download.js';

export interface ZipOptions {
  /** Replaces the URL's folder: a local mirror holding the same zip files. */
  mirror?: string;
  progress?: Progress;
}

export function packUrl(pack: ZipPack, mirror?: string): string {
  return mirror ? `${mirror.replace(/\/+$/, '')}/${basename(new URL(pack.url).pathname)}` : pack.url;
}

export async function extractZipPack(pack: ZipPack, work: string, log: (line: string) => void, options: ZipOptions = {}): Promise<string[]> {
  const url = packUrl(pack, options.mirror);
  log(`pack '${pack.name}': downloading ${url} (${pack.license})`);
  const zip = join(work, `${pack.name}.zip`);
  let sha256: string;
  try {
    ({ sha256 } = await download(url, zip, options.progress ?? progressBar(`pack '${pack.name}'`)));
  } catch (err) {
    throw new Error(`pack '${pack.name}': ${(err as Error).message}. Nothing was installed; on a machine without `
      + `access, put ${basename(url)} on a reachable server and set FACEREST_PACK_MIRROR to its folder URL`);
  }
  if (sha256 !== pack.sha256) {
    throw new Error(`pack '${pack.name}': ${url} has sha256 ${sha256}, expected ${pack.sha256}; nothing was installed`);
  }
  const wanted = new Set(pack.files.map((f) => f.source));
  let entries: Record<string, Uint8Array>;
  try {
    entries = unzipSync(await readFile(zip), { filter: (f) => wanted.has(basename(f.name)) });
  } catch (err) {
    throw new Error(`pack '${pack.name}': not a readable zip file: ${(err as Error).message}`);
  }
  const paths: string[] = [];
  for (const f of pack.files) {
    const matches = Object.keys(entries).filter((name) => basename(name) === f.source);
    if (matches.length !== 1) throw new Error(`pack '${pack.name}': the zip holds ${matches.length} files named ${f.source}, expected 1`);
    const path = join(work, `extracted-${f.file}`);
    await writeFile(path, entries[matches[0]]);
    paths.push(path);
  }
  return paths;
}
