/**
 * Fetches a pack published inside an npm package: `npm pack` downloads just that package's
 * tarball (through the user's npm configuration, registry and cache), without its dependency
 * tree. The tarball is checked against the pinned integrity before anything is extracted.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { NpmPack } from '../catalog.js';

const run = promisify(execFile);

function npmCommand(): { cmd: string; args: string[] } {
  // Inside an npm script, npm_execpath is the npm that runs us: use the same one.
  const execPath = process.env.npm_execpath;
  return execPath && execPath.endsWith('.js')
    ? { cmd: process.execPath, args: [execPath] }
    : { cmd: 'npm', args: [] };
}

/** Downloads and extracts the pack's files into `work`; returns their paths in pack order. */
export async function extractNpmPack(pack: NpmPack, work: string, log: (line: string) => void): Promise<string[]> {
  log(`pack '${pack.name}': fetching ${pack.npm} from the npm registry`);
  const npm = npmCommand();
  let packed: { filename: string }[];
  try {
    const { stdout } = await run(npm.cmd, [...npm.args, 'pack', pack.npm, '--json', '--pack-destination', work],
      { maxBuffer: 16 << 20 });
    packed = JSON.parse(stdout);
  } catch (err) {
    throw new Error(`could not download ${pack.npm} from the npm registry `
      + `(offline, or the registry unreachable?): ${(err as Error).message.split('\n')[0]}`);
  }
  const tarball = join(work, packed[0].filename);
  const integrity = 'sha512-' + createHash('sha512').update(await readFile(tarball)).digest('base64');
  if (integrity !== pack.integrity) {
    throw new Error(`${pack.npm}: tarball integrity ${integrity} does not match the pinned ${pack.integrity}`);
  }
  const extracted = join(work, 'x');
  await mkdir(extracted);
  await run('tar', ['-xzf', tarball, '-C', extracted, ...pack.files.map((f) => f.source)]);
  return pack.files.map((f) => join(extracted, f.source));
}
