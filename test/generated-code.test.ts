/** gen/ is committed; it must be exactly what `npm run generate` makes from proto/ now. */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join, relative } from 'node:path';
import { it } from 'node:test';
import { promisify } from 'node:util';
import { PROJECT_ROOT } from '../models/paths.js';

const run = promisify(execFile);

async function files(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => relative(dir, join(e.parentPath, e.name))).sort();
}

it('gen/ is up to date with proto/ (run `npm run generate` after changing a .proto)', async () => {
  const out = await mkdtemp(join(tmpdir(), 'facerest-gen-'));
  try {
    const bin = join(PROJECT_ROOT, 'node_modules', '.bin');
    await run(join(bin, 'buf'), ['generate', '-o', out], {
      cwd: PROJECT_ROOT,
      env: { ...process.env, PATH: `${bin}${delimiter}${process.env.PATH}` },
    });
    const fresh = join(out, 'gen');
    const committed = join(PROJECT_ROOT, 'gen');
    assert.deepEqual(await files(committed), await files(fresh), 'gen/ has other files than generate makes');
    for (const f of await files(fresh)) {
      assert.equal(await readFile(join(committed, f), 'utf8'), await readFile(join(fresh, f), 'utf8'), `gen/${f} is stale`);
    }
  } finally {
    await rm(out, { recursive: true, force: true });
  }
});

it('proto/ passes buf lint', async () => {
  await run(join(PROJECT_ROOT, 'node_modules', '.bin', 'buf'), ['lint'], { cwd: PROJECT_ROOT });
});
