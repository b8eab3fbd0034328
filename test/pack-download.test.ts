/**
 * Pack download and installation against a local HTTP server (started here) that serves zips
 * built from the shared models: success, cache, wrong checksum, a connection cut midway, an
 * unreachable host; then the CLI and FACEREST_PACK selection at startup.
 */
import { zipSync } from 'fflate';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, copyFile, rm } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { ModelRole } from '../gen/facerest/v1/face_service_pb.js';
import { fetchPack } from '../models/packs/fetch/fetch-pack.js';
import type { ZipPack } from '../models/packs/catalog.js';
import { PROJECT_ROOT } from '../models/packs/paths.js';
import { FaceGrpcClient } from '../clients/node/grpc-client.js';
import { sharedPath } from './helpers/data.js';
import { startServer } from './helpers/server.js';

const run = promisify(execFile);
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

describe('model pack download', () => {
  let models: string;
  let zip: Uint8Array;
  let detector: Uint8Array;
  // The same bytes each time: a zip entry holds its time in 2-second steps, so two zips made
  // across such a step differ (the test's hash and the served file disagreed once).
  const partialZip = () => zipSync({ 'det_500m.onnx': detector }, { mtime: new Date('2024-01-01T00:00:00Z') });
  let recognizer: Uint8Array;
  let server: http.Server;
  let base: string;
  const hits: string[] = [];

  const testPack = (over: Partial<ZipPack> = {}): ZipPack => ({
    kind: 'zip', name: 'testpack', url: `${base}/ok/testpack.zip`, sha256: sha256(zip), license: 'test',
    files: [
      { role: 'detector', source: 'det_500m.onnx', file: 'det_500m.onnx', sha256: sha256(detector) },
      { role: 'recognizer', source: 'mobilefacenet_128d.onnx', file: 'mobilefacenet_128d.onnx' },
    ],
    ...over,
  });
  const installed = async () => (await readdir(models).catch(() => [] as string[])).sort();

  before(async () => {
    models = await mkdtemp(join(tmpdir(), 'facerest-models-'));
    process.env.FACEREST_MODELS_DIR = models;
    detector = await readFile(sharedPath('models', 'scrfd', 'det_500m.onnx'));
    recognizer = await readFile(sharedPath('models', 'recognition', 'mobilefacenet_128d.onnx'));
    // Inside a folder, as antelopev2.zip has them: files are found by name anywhere.
    zip = zipSync({ testpack: { 'det_500m.onnx': detector, 'mobilefacenet_128d.onnx': recognizer, 'README.txt': new Uint8Array(3) } });
    server = http.createServer((req, res) => {
      hits.push(req.url!);
      const name = req.url!.split('/').pop();
      if (req.url!.startsWith('/ok/')) {
        res.writeHead(200, { 'content-length': zip.length });
        return res.end(zip);
      }
      if (req.url!.startsWith('/cut/')) {
        res.writeHead(200, { 'content-length': zip.length });
        res.write(zip.subarray(0, zip.length >> 1), () => res.destroy());
        return;
      }
      if (req.url === '/partial/testpack.zip') {
        const small = partialZip();
        res.writeHead(200, { 'content-length': small.length });
        return res.end(small);
      }
      res.writeHead(404);
      res.end(`no ${name}`);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    delete process.env.FACEREST_MODELS_DIR;
    server.close();
    await rm(models, { recursive: true, force: true });
  });

  it('downloads with progress, verifies and installs the files', async () => {
    const progress: [number, number | undefined][] = [];
    const lines: string[] = [];
    const dir = await fetchPack(testPack(), (l) => lines.push(l), { progress: (r, t) => progress.push([r, t]) });
    assert.equal(dir, join(models, 'testpack'));
    assert.deepEqual(await installed(), ['testpack']);
    assert.equal(sha256(await readFile(join(dir, 'det_500m.onnx'))), sha256(detector));
    assert.equal(sha256(await readFile(join(dir, 'mobilefacenet_128d.onnx'))), sha256(recognizer));
    assert.ok(progress.length > 0);
    assert.deepEqual(progress.at(-1), [zip.length, zip.length]);
    for (let i = 1; i < progress.length; i++) assert.ok(progress[i][0] >= progress[i - 1][0]);
    // Fetched again: verified from the cache, not downloaded.
    const before = hits.length;
    await fetchPack(testPack(), (l) => lines.push(l));
    assert.equal(hits.length, before);
    assert.match(lines.at(-1)!, /cached and verified/);
  });

  it('refuses an archive with the wrong checksum and installs nothing', async () => {
    await assert.rejects(fetchPack(testPack({ name: 'badsum', sha256: '0'.repeat(64) }), () => undefined, { progress: () => undefined }),
      /has sha256 [0-9a-f]{64}, expected 0{64}; nothing was installed/);
    assert.deepEqual(await installed(), ['testpack']);
  });

  it('reports a connection cut midway and installs nothing', async () => {
    await assert.rejects(
      fetchPack(testPack({ name: 'cut', url: `${base}/cut/testpack.zip` }), () => undefined, { progress: () => undefined }),
      /interrupted after \d+ of \d+ bytes/);
    assert.deepEqual(await installed(), ['testpack']);
  });

  it('says what to do when the host cannot be reached', async () => {
    const closed = http.createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
    await assert.rejects(
      fetchPack(testPack({ name: 'offline', url: `http://127.0.0.1:${port}/testpack.zip` }), () => undefined),
      /cannot download .*ECONNREFUSED.*FACEREST_PACK_MIRROR/);
  });

  it('names a model the zip does not hold', async () => {
    const partial = partialZip();
    await assert.rejects(
      fetchPack(testPack({ name: 'partial', url: `${base}/partial/testpack.zip`, sha256: sha256(partial) }), () => undefined,
        { progress: () => undefined }),
      /holds 0 files named mobilefacenet_128d.onnx/);
    assert.deepEqual(await installed(), ['testpack']);
  });

  it('npm run models -- <pack> downloads through FACEREST_PACK_MIRROR and checks the pinned sum', async () => {
    // The mirror serves our test zip under the official name: the pinned sha256 must catch it.
    const cli = join(PROJECT_ROOT, 'dist', 'models', 'packs', 'fetch', 'cli.js');
    const env = { ...process.env, FACEREST_MODELS_DIR: models, FACEREST_PACK_MIRROR: `${base}/ok/` };
    await assert.rejects(run(process.execPath, [cli, 'buffalo_sc'], { env }),
      (err: { code: number; stderr: string }) => err.code === 1
        && /pack 'buffalo_sc': .* has sha256 [0-9a-f]{64}, expected 57d31b56/.test(err.stderr));
    assert.ok(hits.includes('/ok/buffalo_sc.zip'));
    await assert.rejects(run(process.execPath, [cli, 'no_such_pack'], { env }),
      (err: { code: number; stderr: string }) => err.code === 2 && /unknown pack 'no_such_pack'; known packs: default, buffalo_l/.test(err.stderr));
  });
});

describe('FACEREST_PACK at startup', () => {
  let models: string;
  before(async () => {
    models = await mkdtemp(join(tmpdir(), 'facerest-models-'));
    // buffalo_sc's detector is the shared det_500m (same sha256); its recognizer is not here.
    await mkdir(join(models, 'buffalo_sc'));
    await copyFile(sharedPath('models', 'scrfd', 'det_500m.onnx'), join(models, 'buffalo_sc', 'det_500m.onnx'));
  });
  after(async () => { await rm(models, { recursive: true, force: true }); });

  it("loads the pack's models, with single models overridden by path", async () => {
    const server = await startServer({
      FACEREST_MODELS_DIR: models, FACEREST_PACK: 'buffalo_sc',
      FACEREST_RECOGNIZER: sharedPath('models', 'recognition', 'mobilefacenet_128d.onnx'),
    });
    const client = new FaceGrpcClient(server.address);
    try {
      const info = await client.info();
      assert.deepEqual(info.models.map((m) => [m.role, m.name, m.pack]), [
        [ModelRole.DETECTOR, 'det_500m.onnx', 'buffalo_sc'],
        [ModelRole.RECOGNIZER, 'mobilefacenet_128d.onnx', 'custom'],
      ]);
    } finally {
      client.close();
      await server.stop();
    }
  });

  it('refuses to start with a pack that is not fetched, saying how to fetch it', async () => {
    await assert.rejects(startServer({ FACEREST_MODELS_DIR: models, FACEREST_PACK: 'buffalo_l' }),
      /pack 'buffalo_l' is not fetched .* run 'npm run models -- buffalo_l'/);
  });

  it('refuses an unknown pack name', async () => {
    await assert.rejects(startServer({ FACEREST_PACK: 'buffalo_xl' }), /unknown pack 'buffalo_xl'/);
  });
});
