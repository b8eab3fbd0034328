/** CORS for browsers: preflights answered, origins configurable. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startServer, type TestServer } from './helpers/server.js';

function preflight(server: TestServer, origin: string, path = '/facerest.v1.FaceService/Extract') {
  return fetch(`${server.baseUrl}${path}`, {
    method: 'OPTIONS',
    headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type,connect-protocol-version' },
  });
}

describe('CORS with a configured origin list', () => {
  let server: TestServer;
  before(async () => { server = await startServer({ FACEREST_CORS_ORIGINS: 'https://app.example, https://other.example' }); });
  after(async () => { await server.stop(); });

  it('answers a preflight from an allowed origin with the Connect/gRPC-Web headers', async () => {
    const res = await preflight(server, 'https://app.example');
    assert.equal(res.status, 204);
    assert.equal(res.headers.get('access-control-allow-origin'), 'https://app.example');
    assert.match(res.headers.get('access-control-allow-methods') ?? '', /POST/);
    const allowed = (res.headers.get('access-control-allow-headers') ?? '').toLowerCase();
    for (const h of ['content-type', 'connect-protocol-version', 'x-grpc-web']) assert.ok(allowed.includes(h), h);
  });

  it('refuses a preflight from another origin', async () => {
    const res = await preflight(server, 'https://evil.example');
    assert.equal(res.status, 403);
    assert.equal(res.headers.get('access-control-allow-origin'), null);
  });

  it('marks real responses for allowed origins and exposes the gRPC status headers', async () => {
    const res = await fetch(`${server.baseUrl}/facerest.v1.FaceService/Info`, {
      method: 'POST', headers: { origin: 'https://other.example', 'content-type': 'application/json' }, body: '{}',
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('access-control-allow-origin'), 'https://other.example');
    assert.match(res.headers.get('access-control-expose-headers') ?? '', /Grpc-Status/i);
  });
});

describe('CORS by default', () => {
  let server: TestServer;
  before(async () => { server = await startServer(); });
  after(async () => { await server.stop(); });

  it('allows any origin, including on the legacy route', async () => {
    const res = await preflight(server, 'https://anywhere.example', '/extract');
    assert.equal(res.status, 204);
    assert.equal(res.headers.get('access-control-allow-origin'), '*');
  });
});
