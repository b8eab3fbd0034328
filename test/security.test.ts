/**
 * API keys on every protocol (health checks and metrics stay open), TLS with HTTP/2 and
 * HTTP/1.1 on the same port, and no image fetched from a URL.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { createClient } from '@connectrpc/connect';
import { createGrpcTransport } from '@connectrpc/connect-node';
import { createFaceClient, type Protocol } from '../clients/node/face-client.js';
import { FaceGrpcClient } from '../clients/node/grpc-client.js';
import { Health, HealthCheckResponse_ServingStatus as Status } from '../gen/grpc/health/v1/health_pb.js';
import { BBT, readFace } from './helpers/data.js';
import { base64 } from './helpers/legacy.js';
import { startServer, type TestServer } from './helpers/server.js';

const KEY = 'k-0123456789abcdef-one';
const FILE_KEY = 'k-0123456789abcdef-two';
const bbt2 = readFace(BBT[1]);

describe('API keys', () => {
  let server: TestServer;
  let dir: string;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'facerest-keys-'));
    writeFileSync(join(dir, 'keys'), `# one key per line\n${FILE_KEY}\n`);
    server = await startServer({ FACEREST_API_KEYS: KEY, FACEREST_API_KEYS_FILE: join(dir, 'keys') });
  });
  after(async () => {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('gRPC (grpc-js): UNAUTHENTICATED without a key or with a wrong one; Bearer and x-api-key both work', async () => {
    const client = new FaceGrpcClient(server.address);
    try {
      const wrong: (Record<string, string> | undefined)[] = [undefined, { authorization: 'Bearer k-0123456789abcdef-bad' }, { 'x-api-key': 'nope' }];
      for (const metadata of wrong) {
        await assert.rejects(client.extract({ images: [{ data: bbt2 }] }, { metadata }),
          (err: grpc.ServiceError) => err.code === grpc.status.UNAUTHENTICATED && /API key is required/.test(err.details));
      }
      const right: Record<string, string>[] = [{ authorization: `Bearer ${KEY}` }, { 'x-api-key': FILE_KEY }];
      for (const metadata of right) {
        const res = await client.extract({ images: [{ data: bbt2 }] }, { metadata });
        assert.equal(res.results[0].faces.length, 3);
      }
    } finally {
      client.close();
    }
  });

  for (const protocol of ['connect', 'grpc-web'] as Protocol[]) {
    it(`${protocol}: refused without a key, served with one`, async () => {
      const anonymous = createFaceClient({ baseUrl: server.baseUrl, protocol });
      const keyed = createFaceClient({ baseUrl: server.baseUrl, protocol, headers: { authorization: `Bearer ${KEY}` } });
      try {
        await assert.rejects(anonymous.info(), /unauthenticated|API key/i);
        assert.equal((await keyed.extract([bbt2]))[0].faces.length, 3);
      } finally {
        anonymous.close();
        keyed.close();
      }
    });
  }

  it('POST /extract: 401 with WWW-Authenticate without a key, 200 with one', async () => {
    const body = JSON.stringify({ images: { data: [base64(bbt2)] } });
    const refused = await fetch(`${server.baseUrl}/extract`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    assert.equal(refused.status, 401);
    assert.equal(refused.headers.get('www-authenticate'), 'Bearer');
    const ok = await fetch(`${server.baseUrl}/extract`, {
      method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': KEY }, body,
    });
    assert.equal(ok.status, 200);
    assert.equal(((await ok.json()) as unknown[][])[0].length, 3);
  });

  it('health checks, metrics and the page stay open', async () => {
    assert.equal((await fetch(`${server.baseUrl}/healthz`)).status, 200);
    assert.equal((await fetch(`${server.baseUrl}/metrics`)).status, 200);
    assert.equal((await fetch(`${server.baseUrl}/`)).status, 200);
    const health = createClient(Health, createGrpcTransport({ baseUrl: server.baseUrl }));
    assert.equal((await health.check({ service: '' })).status, Status.SERVING);
  });
});

describe('TLS', () => {
  let server: TestServer;
  let dir: string;
  let cert: Buffer;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'facerest-tls-'));
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=localhost',
      '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost',
      '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' });
    cert = readFileSync(join(dir, 'cert.pem'));
    server = await startServer({ FACEREST_TLS_CERT: join(dir, 'cert.pem'), FACEREST_TLS_KEY: join(dir, 'key.pem') });
  });
  after(async () => {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('gRPC over TLS (HTTP/2) finds the faces', async () => {
    const client = new FaceGrpcClient(server.address, grpc.credentials.createSsl(cert));
    try {
      const res = await client.extract({ images: [{ data: bbt2 }] });
      assert.equal(res.results[0].faces.length, 3);
    } finally {
      client.close();
    }
  });

  it('HTTPS over HTTP/1.1 on the same port (REST and /healthz)', async () => {
    const get = (path: string) => new Promise<{ status: number; version: string }>((resolve, reject) => {
      const req = https.get({ host: '127.0.0.1', port: server.port, path, ca: cert }, (res) => {
        res.resume();
        resolve({ status: res.statusCode!, version: res.httpVersion });
      });
      req.on('error', reject);
    });
    assert.deepEqual(await get('/healthz'), { status: 200, version: '1.1' });
  });

  it('refuses cleartext', async () => {
    await assert.rejects(fetch(`http://127.0.0.1:${server.port}/healthz`, { signal: AbortSignal.timeout(5000) }));
  });
});
