/**
 * The contract: gen/ is committed and must be exactly what `npm run generate` makes from proto/
 * now; proto/ passes buf lint; and no change breaks v1 as released (buf breaking against
 * proto/breaking-baseline.json, the image `npm run proto:baseline` writes at a release).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cp, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join, relative } from 'node:path';
import { it } from 'node:test';
import { promisify } from 'node:util';
import { PROJECT_ROOT } from '../models/packs/paths.js';

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

const buf = (args: string[], cwd = PROJECT_ROOT) => run(join(PROJECT_ROOT, 'node_modules', '.bin', 'buf'), args, { cwd });
const BASELINE = join(PROJECT_ROOT, 'proto', 'breaking-baseline.json');

it('proto/ does not break v1 as released (buf breaking)', async () => {
  await buf(['breaking', '--against', BASELINE]);
});

it('the breaking check fails on a breaking change (a field renumbered)', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'facerest-breaking-'));
  try {
    await cp(join(PROJECT_ROOT, 'proto'), join(dir, 'proto'), { recursive: true });
    await cp(join(PROJECT_ROOT, 'buf.yaml'), join(dir, 'buf.yaml'));
    const file = join(dir, 'proto', 'facerest', 'v1', 'face_service.proto');
    const proto = await readFile(file, 'utf8');
    assert.match(proto, /float score = 1;/);
    await writeFile(file, proto.replace('float score = 1;', 'float score = 9;'));
    await assert.rejects(buf(['breaking', '--against', BASELINE], dir),
      (err: { stdout: string }) => /Face.*score|field "1"|deleted/i.test(err.stdout));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
