/**
 * The `facerest` command run as a child process against the real server: extract over a folder
 * of shared photos, compare on labelled pairs, and the errors a user meets.
 */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { readdirSync } from 'node:fs';
import { extname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { CountProgress } from '../clients/cli/progress.js';
import { PROJECT_ROOT } from '../models/packs/paths.js';
import { readCsv, sharedPath } from './helpers/data.js';
import { startServer, type TestServer } from './helpers/server.js';

const run = promisify(execFile);
const CLI = join(PROJECT_ROOT, 'dist', 'clients', 'cli', 'facerest.js');
const FOLDER = sharedPath('faces', 'face-api.js', 'examples', 'images');

async function facerest(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [CLI, ...args], { maxBuffer: 64 << 20 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

/** The photos under a folder, counted here independently of the CLI's own walk. */
function photosUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((f) => ['.jpg', '.png'].includes(extname(f)))
    .map((f) => join(dir, f));
}

describe('facerest CLI', () => {
  let server: TestServer;
  before(async () => { server = await startServer(); });
  after(async () => { await server.stop(); });

  it('extract walks a folder and prints one JSON line per image', async () => {
    const expected = photosUnder(FOLDER);
    const { code, stdout, stderr } = await facerest('extract', FOLDER, '--server', server.baseUrl, '--jsonl', '--max-size', '640');
    assert.equal(code, 0, stderr);
    const lines = stdout.trim().split('\n').map((l) => JSON.parse(l));
    assert.equal(lines.length, expected.length);
    assert.deepEqual(new Set(lines.map((l) => l.file)), new Set(expected));
    const bbt1 = lines.find((l) => l.file.endsWith('bbt1.jpg'));
    assert.equal(bbt1.faces.length, 4);
    assert.equal(bbt1.faces[0].vec.length, 512);
    assert.equal(bbt1.faces[0].bbox.length, 4);
    assert.equal(stderr, '', 'no progress bar when stderr is not a terminal');
  });

  const pairs = readCsv('faces', 'deepface', 'pairs.csv');
  const samePair = pairs.find((p) => p.same === '1')!;
  const differentPair = pairs.find((p) => p.same === '0')!;
  for (const [pair, same] of [[samePair, true], [differentPair, false]] as const) {
    it(`compare tells ${pair.file_a} and ${pair.file_b} are ${same ? 'the same person' : 'different people'}`, async () => {
      const { code, stdout, stderr } = await facerest('compare',
        sharedPath('faces', 'deepface', pair.file_a), sharedPath('faces', 'deepface', pair.file_b), '--server', server.baseUrl);
      assert.equal(code, 0, stderr);
      const answer = JSON.parse(stdout);
      assert.equal(answer.same, same);
      assert.equal(answer.threshold, 0.44);
      assert.ok(same ? answer.similarity >= 0.44 : answer.similarity < 0.44, String(answer.similarity));
    });
  }

  it('compare (verify) says which image has no face', async () => {
    const white = sharedPath('faces', 'face-api.js', 'test', 'images', 'white.png');
    const { code, stderr } = await facerest('compare', white, join(FOLDER, 'bbt1.jpg'), '--server', server.baseUrl);
    assert.equal(code, 1);
    assert.match(stderr, /white\.png: no face found/);
  });

  it('enroll creates the collection and enrols a folder; identify names the faces of another', async () => {
    const enrolled = await facerest('enroll', 'cli', 'howard', join(FOLDER, 'howard', 'howard1.png'), join(FOLDER, 'howard', 'howard2.png'), '--server', server.baseUrl);
    assert.equal(enrolled.code, 0, enrolled.stderr);
    assert.match(enrolled.stderr, /created collection 'cli'/);
    const lines = enrolled.stdout.trim().split('\n').map((l) => JSON.parse(l));
    assert.equal(lines.length, 2);
    assert.ok(lines.every((l) => l.subject === 'howard' && /^[0-9a-f-]{36}$/.test(l.face_id)));
    const group = await facerest('enroll', 'cli', 'group', join(FOLDER, 'bbt1.jpg'), '--server', server.baseUrl);
    assert.equal(group.code, 1, 'an image with several faces is refused without --largest-face');
    assert.equal(JSON.parse(group.stdout).code, 'MULTIPLE_FACES');
    // No face of these crops reaches 0.99 (bench/quality-study.ts: medians 0.73).
    const strict = await facerest('enroll', 'cli', 'howard', join(FOLDER, 'howard', 'howard3.png'), '--min-quality', '0.99', '--server', server.baseUrl);
    assert.equal(strict.code, 1);
    assert.equal(JSON.parse(strict.stdout).code, 'LOW_QUALITY');
    assert.match(JSON.parse(strict.stdout).error, /under the minimum of 0\.99: /);

    const found = await facerest('identify', 'cli', join(FOLDER, 'howard', 'howard4.png'), join(FOLDER, 'raj', 'raj1.png'), '--server', server.baseUrl);
    assert.equal(found.code, 0, found.stderr);
    const [howard, raj] = found.stdout.trim().split('\n').map((l) => JSON.parse(l));
    assert.equal(howard.faces[0].matches[0].subject, 'howard');
    assert.deepEqual(raj.faces[0].matches, [], 'raj is not enrolled');
    const unknown = await facerest('identify', 'nope', join(FOLDER, 'raj', 'raj1.png'), '--server', server.baseUrl);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /no collection 'nope'/);
  });

  it('extract reports an unreadable file on its own line and exits 1, the others still done', async () => {
    const { code, stdout } = await facerest('extract', join(FOLDER, 'bbt1.jpg'), '/no/such/photo.jpg', '--server', server.baseUrl);
    assert.equal(code, 1);
    const lines = stdout.trim().split('\n').map((l) => JSON.parse(l));
    assert.equal(lines.length, 2);
    assert.match(lines.find((l) => l.file === '/no/such/photo.jpg').error, /cannot read: ENOENT/);
    assert.equal(lines.find((l) => l.file.endsWith('bbt1.jpg')).faces.length, 4);
  });

  it('says which server it cannot reach', async () => {
    const { code, stderr } = await facerest('extract', join(FOLDER, 'bbt1.jpg'), '--server', 'http://127.0.0.1:1');
    assert.equal(code, 1);
    assert.match(stderr, /cannot reach the facerest server at http:\/\/127\.0\.0\.1:1/);
  });

  it('refuses bad usage with exit status 2', async () => {
    assert.equal((await facerest('extract')).code, 2);
    assert.equal((await facerest('extract', FOLDER, '--max-size', '-3')).code, 2);
    assert.match((await facerest('frobnicate')).stderr, /unknown command 'frobnicate'/);
  });

  it('serve starts the server, which stops cleanly on SIGTERM', async () => {
    const child = spawn(process.execPath, [CLI, 'serve'], {
      env: { ...process.env, PORT: '0', HOST: '127.0.0.1', FACEREST_WORKERS: '1' }, stdio: ['ignore', 'pipe', 'inherit'],
    });
    const lines = createInterface({ input: child.stdout! });
    await new Promise<void>((resolve) => lines.on('line', (line) => { if (line.includes('"msg":"ready"')) resolve(); }));
    child.kill('SIGTERM');
    const [code, signal] = await once(child, 'exit');
    assert.equal(code, 0, `exit signal ${signal}`);
  });

  it('draws count, rate and ETA on a terminal', () => {
    let out = '';
    const tty = { isTTY: true, write: (s: string) => { out += s; return true; } } as unknown as NodeJS.WriteStream;
    const bar = new CountProgress(4, tty);
    for (let i = 0; i < 4; i++) bar.tick();
    assert.match(out, /4\/4 [\d.]+ img\/s ETA 0s/);
  });
});
