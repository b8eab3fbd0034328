/**
 * Assembles the service. The port opens first and answers NOT_SERVING (503 on /healthz,
 * UNAVAILABLE on RPCs) while the models load and warm up, so orchestrators can tell a
 * starting instance from a dead one.
 */
import { connectNodeAdapter } from '@connectrpc/connect-node';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../models/paths.js';
import type { ModelDescription } from '../models/types.js';
import type { Config } from './config.js';
import { prepareEngine, type Engine } from './engine.js';
import { listen } from './http/listener.js';
import { createHandler } from './http/routes.js';
import { faceServiceRoutes } from './rpc/face-service.js';
import { HealthState, healthRoutes } from './rpc/health.js';
import { observeRpcs } from './rpc/interceptor.js';
import { ApiKeys } from './http/auth.js';
import { Metrics } from './metrics.js';
import { Admission } from './pipeline/admission.js';
import type { Logger } from 'pino';
import { FaceService } from '../gen/facerest/v1/face_service_pb.js';

export const VERSION: string = JSON.parse(readFileSync(join(PROJECT_ROOT, 'package.json'), 'utf8')).version;

export interface RunningServer {
  port: number;
  /** Resolves with the loaded models once the service is SERVING. */
  ready: Promise<ModelDescription[]>;
  /** Graceful stop: NOT_SERVING, no new connections, admitted requests finish (up to the drain time). */
  drain(): Promise<void>;
}

/** Paths of the calls whose request is a stream (their bodies last as long as the call). */
function clientStreamingPaths(): Set<string> {
  return new Set(FaceService.methods
    .filter((m) => m.methodKind === 'bidi_streaming' || m.methodKind === 'client_streaming')
    .map((m) => `/${FaceService.typeName}/${m.name}`));
}

export async function startServer(config: Config, log: Logger): Promise<RunningServer> {
  const admission = new Admission(config.maxQueue);
  let engine: Engine | undefined;
  const metrics = new Metrics(() => admission.depth, () => engine?.queued() ?? 0);
  const loadEngine = prepareEngine(config, config.workers, { limits: config.limits, admission, metrics });
  const health = new HealthState();
  const keys = new ApiKeys(config.apiKeys);
  const connect = connectNodeAdapter({
    routes: (router) => {
      faceServiceRoutes(() => engine, VERSION)(router);
      healthRoutes(health)(router);
    },
    interceptors: [observeRpcs({ keys, metrics, log })],
    readMaxBytes: config.limits.maxBodyBytes,
    // Compressed requests are still accepted, but answers go out uncompressed: they are float
    // vectors and JPEG crops, which gzip barely shrinks, and compressing them cost CPU on both
    // ends (zlib was the server's busiest main-thread function under grpc-js load).
    compressMinBytes: Number.MAX_SAFE_INTEGER,
  });
  let active = 0;
  let idle: (() => void) | undefined;
  const handle = createHandler({
    connect, engine: () => engine, health, corsOrigins: config.corsOrigins, maxBodyBytes: config.limits.maxBodyBytes,
    keys, metrics, log,
  });
  const listener = await listen((req, res) => {
    active++;
    res.once('close', () => {
      if (--active === 0) idle?.();
    });
    handle(req, res);
  }, {
    port: config.port, host: config.host, tls: config.tls, log,
    // Network edge: timeouts, connection cap, request-body budget (server/http/listener.ts).
    limits: config.network, maxBodyBytes: config.limits.maxBodyBytes, streamingPaths: clientStreamingPaths(),
    onOverloaded: () => metrics.reject('overloaded'),
  });

  const ready = loadEngine().then((e) => {
    engine = e;
    health.set(true);
    return e.models;
  });
  ready.catch(() => listener.destroy());

  return {
    port: listener.port,
    ready,
    async drain() {
      health.set(false);
      listener.stopAccepting();
      if (active > 0) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, config.drainSeconds * 1000);
          idle = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
      listener.destroy();
      await engine?.close();
    },
  };
}
