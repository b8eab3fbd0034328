/** Health (GET /healthz and grpc.health.v1) and the Info RPC. */
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import * as grpc from '@grpc/grpc-js';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { FaceGrpcClient } from '../clients/node/grpc-client.js';
import { ModelRole } from '../gen/facerest/v1/face_service_pb.js';
import {
  HealthCheckRequestSchema, HealthCheckResponse_ServingStatus as Status, HealthCheckResponseSchema,
  type HealthCheckResponse,
} from '../gen/grpc/health/v1/health_pb.js';
import { sharedPath } from './helpers/data.js';
import { startServer, type TestServer } from './helpers/server.js';

function healthCheck(address: string, service: string): Promise<HealthCheckResponse> {
  const client = new grpc.Client(address, grpc.credentials.createInsecure());
  return new Promise<HealthCheckResponse>((resolve, reject) => {
    client.makeUnaryRequest('/grpc.health.v1.Health/Check',
      (m: HealthCheckResponse) => Buffer.from(toBinary(HealthCheckRequestSchema, m as never)),
      (b: Buffer) => fromBinary(HealthCheckResponseSchema, b),
      create(HealthCheckRequestSchema, { service }) as never,
      (err: grpc.ServiceError | null, res?: HealthCheckResponse) => (err ? reject(err) : resolve(res!)));
  }).finally(() => client.close());
}

describe('health and info', () => {
  let server: TestServer;
  let early: number;
  before(async () => {
    // Take the port as soon as it opens: the models take well over 100 ms to load and warm.
    server = await startServer({}, 'listening');
    early = (await fetch(`${server.baseUrl}/healthz`)).status;
    const deadline = Date.now() + 60_000;
    while ((await fetch(`${server.baseUrl}/healthz`)).status !== 200) {
      if (Date.now() > deadline) throw new Error('the server did not become ready in 60 s');
      await new Promise((r) => setTimeout(r, 50));
    }
  });
  after(async () => { await server.stop(); });

  it('GET /healthz is 503 while the models load, then 200', async () => {
    assert.equal(early, 503);
    const res = await fetch(`${server.baseUrl}/healthz`);
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { status: 'SERVING' });
  });

  it('grpc.health.v1.Health/Check says SERVING for the server and for FaceService', async () => {
    assert.equal((await healthCheck(server.address, '')).status, Status.SERVING);
    assert.equal((await healthCheck(server.address, 'facerest.v1.FaceService')).status, Status.SERVING);
  });

  it('grpc.health.v1.Health/Check answers NOT_FOUND for an unknown service', async () => {
    await assert.rejects(healthCheck(server.address, 'no.such.Service'), (err: grpc.ServiceError) => err.code === grpc.status.NOT_FOUND);
  });

  it('Info lists the default pack models and the version', async () => {
    const client = new FaceGrpcClient(server.address);
    try {
      const info = await client.info();
      assert.match(info.version, /^\d+\.\d+\.\d+/);
      const byRole = Object.fromEntries(info.models.map((m) => [m.role, m]));
      assert.equal(byRole[ModelRole.DETECTOR].family, 'ultraface');
      assert.deepEqual([byRole[ModelRole.DETECTOR].inputWidth, byRole[ModelRole.DETECTOR].inputHeight], [320, 240]);
      assert.equal(byRole[ModelRole.LANDMARKS].family, 'landmarks68');
      assert.equal(byRole[ModelRole.RECOGNIZER].embeddingSize, 512);
      for (const m of info.models) assert.equal(m.pack, 'default');
    } finally {
      client.close();
    }
  });
});

describe('startup with models given by path', () => {
  it('loads SCRFD without a landmark model and reports a 128-d recognizer; the pack keeps its other models', async () => {
    const server = await startServer({
      FACEREST_DETECTOR: sharedPath('models', 'scrfd', 'det_500m.onnx'),
      FACEREST_RECOGNIZER: sharedPath('models', 'recognition', 'mobilefacenet_128d.onnx'),
    });
    const client = new FaceGrpcClient(server.address);
    try {
      const info = await client.info();
      assert.deepEqual(info.models.map((m) => [m.role, m.family, m.pack]), [
        [ModelRole.DETECTOR, 'scrfd', 'custom'], [ModelRole.RECOGNIZER, 'arcface', 'custom'],
        [ModelRole.ATTRIBUTES, 'ssrnet-age', 'default'], [ModelRole.ATTRIBUTES, 'ssrnet-gender', 'default'],
      ]);
      assert.equal(info.models[1].embeddingSize, 128);
    } finally {
      client.close();
      await server.stop();
    }
  });

  it('refuses to start, naming the problem, when a model matches no family', async () => {
    // A recognizer is no detector.
    await assert.rejects(startServer({ FACEREST_DETECTOR: sharedPath('models', 'recognition', 'mobilefacenet_128d.onnx') }),
      /matches no supported family/);
  });

  it('refuses to start when a model file does not exist', async () => {
    await assert.rejects(startServer({ FACEREST_RECOGNIZER: '/nonexistent/model.onnx' }), /model file not found/);
  });
});
