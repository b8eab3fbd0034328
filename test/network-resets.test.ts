/**
 * TCP resets before, during and after a request, and first reads too short to tell the
 * protocol. A reset before the first byte used to kill the whole process (the socket being
 * sniffed had no 'error' listener); a first read of "P" sent HTTP/2's preface to HTTP/1.1.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http2 from 'node:http2';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { BBT, readFace } from './helpers/data.js';
import { base64 } from './helpers/legacy.js';
import { RawClient, assertServed, sleep, waitFor } from './helpers/attack.js';
import { startServer, type TestServer } from './helpers/server.js';

const PREFACE = 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n';
const EMPTY_SETTINGS = Buffer.from([0, 0, 0, 0x4, 0, 0, 0, 0, 0]);

async function resetAfter(port: number, send?: (c: RawClient) => Promise<void> | void): Promise<void> {
  const client = new RawClient(port);
  await client.connected();
  await send?.(client);
  await sleep(20);
  client.socket.resetAndDestroy();
  await client.closed;
}

describe('TCP resets and short first reads', () => {
  let server: TestServer;
  before(async () => { server = await startServer(); });
  after(async () => { await server.stop(); });

  it('a reset before the first byte (20 times) leaves the server up', { timeout: 60_000 }, async () => {
    for (let i = 0; i < 20; i++) await resetAfter(server.port);
    await sleep(100);
    await assertServed(server);
  });

  it('resets during a request: mid-sniff, mid-head, mid-body, mid-HTTP/2-stream, and after the answer', { timeout: 60_000 }, async () => {
    const body = JSON.stringify({ images: { data: [base64(readFace(BBT[1]))] } });
    await resetAfter(server.port, (c) => { c.write('PO'); });
    await resetAfter(server.port, (c) => { c.write('POST /extract HTTP/1.1\r\nHost: x\r\nContent-Le'); });
    await resetAfter(server.port, (c) => {
      c.write(`POST /extract HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`);
      c.write(body.slice(0, body.length / 2));
    });
    await resetAfter(server.port, (c) => { c.write(PREFACE); c.write(EMPTY_SETTINGS); });
    // An HTTP/2 stream that a reset ends mid-body.
    await resetAfter(server.port, async (c) => {
      const session = http2.connect(`http://127.0.0.1:${server.port}`, { createConnection: () => c.socket });
      session.on('error', () => undefined);
      const stream = session.request({ ':method': 'POST', ':path': '/extract', 'content-type': 'application/json' });
      stream.on('error', () => undefined);
      stream.write(body.slice(0, 1000));
      await sleep(50);
    });
    // A whole request answered, then a reset.
    await resetAfter(server.port, async (c) => {
      c.write(`POST /extract HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
      assert.ok(await waitFor(() => c.status !== undefined, 20_000), 'answered before the reset');
      assert.equal(c.status, 200);
    });
    await assertServed(server);
  });

  it('"P" alone in the first read: HTTP/1.1 POST and the HTTP/2 preface are each routed right', { timeout: 60_000 }, async () => {
    const h1 = new RawClient(server.port);
    await h1.connected();
    h1.write('P');
    await sleep(100);
    h1.write('OST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n');
    assert.ok(await waitFor(() => /\r\n\r\n.*SERVING/s.test(h1.text), 5000), `HTTP/1.1 answer: ${JSON.stringify(h1.text)}`);
    assert.equal(h1.status, 200);
    h1.destroy();

    const h2 = new RawClient(server.port);
    await h2.connected();
    h2.write(PREFACE.slice(0, 1));
    await sleep(100);
    h2.write(PREFACE.slice(1));
    h2.write(EMPTY_SETTINGS);
    // The server's preface: a SETTINGS frame (type 4 on stream 0), not an HTTP/1.1 400.
    assert.ok(await waitFor(() => h2.received.length >= 9, 5000), 'the server answered');
    assert.equal(h2.received[3], 0x4, `first frame type; received ${JSON.stringify(h2.text.slice(0, 40))}`);
    h2.destroy();
  });
});

describe('TLS: resets and stalls around the handshake', () => {
  let server: TestServer;
  let dir: string;
  let cert: Buffer;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'facerest-net-tls-'));
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=localhost',
      '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' });
    cert = readFileSync(join(dir, 'cert.pem'));
    server = await startServer({
      FACEREST_TLS_CERT: join(dir, 'cert.pem'), FACEREST_TLS_KEY: join(dir, 'key.pem'), FACEREST_HEADERS_TIMEOUT_SECONDS: '1',
    });
  });
  after(async () => {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const healthz = () => new Promise<number>((resolve, reject) => {
    https.get({ host: '127.0.0.1', port: server.port, path: '/healthz', ca: cert }, (res) => {
      res.resume();
      resolve(res.statusCode!);
    }).on('error', reject);
  });

  it('resets before, during and after the handshake leave the server up', { timeout: 60_000 }, async () => {
    for (let i = 0; i < 10; i++) await resetAfter(server.port);
    // The start of a ClientHello record, then a reset.
    await resetAfter(server.port, (c) => { c.write(Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00])); });
    // A whole TLS session, then a reset.
    const tcp = new RawClient(server.port);
    const secure = tls.connect({ socket: tcp.socket, servername: 'localhost', ca: cert, ALPNProtocols: ['http/1.1'] });
    secure.on('error', () => undefined);
    await new Promise((resolve) => secure.once('secureConnect', resolve));
    secure.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
    await new Promise((resolve) => secure.once('data', resolve));
    tcp.socket.resetAndDestroy();
    await sleep(100);
    assert.equal(await healthz(), 200);
  });

  it('a connection that never completes the handshake is closed at the header timeout', { timeout: 60_000 }, async () => {
    const c = new RawClient(server.port);
    await c.connected();
    await Promise.race([c.closed, sleep(8000)]);
    assert.ok(c.heldSeconds !== undefined && c.heldSeconds < 8, `held ${c.heldSeconds} s`);
    assert.equal(await healthz(), 200);
  });
});
