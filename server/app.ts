/**
 * Assembles the service. The port opens first and answers NOT_SERVING (503 on /healthz,
 * UNAVAILABLE on RPCs) while the models load and warm up, so orchestrators can tell a
 * starting instance from a dead one.
 */
import { readFileSync } from 'node:fs';
import http2, { type Http2ServerResponse, type ServerHttp2Stream } from 'node:http2';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../models/packs/paths.js';
import type { ModelDescription } from '../models/inference/types.js';
import type { Config } from './config.js';
import { prepareEngine, type Engine } from './engine.js';
import { listen, type Handler } from './http/listener.js';
import { createHandler } from './http/routes.js';
import { extractMethod, faceServiceRoutes } from './rpc/face-service.js';
import { enrollMethod, galleryRoutes, identifyMethod, verifyMethod } from './rpc/gallery-service.js';
import { openStore } from './gallery/open-store.js';
import { Gallery } from './gallery/service.js';
import { HealthState, healthRoutes } from './rpc/health.js';
import { observeRpcs } from './rpc/interceptor.js';
import { rpcAdapter } from './rpc/adapter.js';
import { ApiKeys } from './http/auth.js';
import { Metrics } from './metrics.js';
import { Admission, FifoBudget } from './pipeline/admission.js';
import { ServiceError } from './errors.js';
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

/** What tests may change about how the server runs (production passes nothing). */
export interface StartOptions {
  /** The inference worker module (tests wrap the real one to make it misbehave). */
  workerScript?: URL;
}

type Response = Parameters<Handler>[1];

/**
 * An HTTP/2 stream whose answer is complete while its client still sends (a stream the server
 * ended, its client still writing) is closed with NO_ERROR, as HTTP/2 allows a server to do
 * after a complete response; else it would hold the drain until the client stopped.
 */
function closeAnswered(res: Response): void {
  const stream = (res as Http2ServerResponse).stream as ServerHttp2Stream | undefined;
  // localClose: END_STREAM is out. writableFinished alone comes before a gRPC answer's
  // trailers, and a reset then loses the status (measured: 2 of 20 calls in flight at SIGTERM).
  if (!stream || !stream.writableFinished || stream.destroyed || !stream.state?.localClose) return;
  // close() sends the RST_STREAM; the stream then still waits for its unread request data,
  // so it is destroyed too (no error: the code stays NO_ERROR).
  stream.close(http2.constants.NGHTTP2_NO_ERROR);
  stream.destroy();
}

/** After the drain: how long finished connections get to flush their last bytes. */
const CLOSE_GRACE_MS = 1000;

const SHUTTING_DOWN = 'the server is shutting down; retry on another instance';

export async function startServer(config: Config, log: Logger, options: StartOptions = {}): Promise<RunningServer> {
  const admission = new Admission(config.maxQueue, config.maxStreamQueue);
  let engine: Engine | undefined;
  const metrics = new Metrics(() => admission.depth, () => engine?.queued() ?? 0);
  const health = new HealthState();
  const draining = new AbortController();
  const loadEngine = prepareEngine(config, config.workers, {
    limits: config.limits, admission, metrics,
    pixels: new FifoBudget(config.maxPixelsInFlight),
    maxFaces: config.maxFaces,
    imageBudgetMs: config.imageBudgetMs,
    draining: draining.signal,
    log,
  }, {
    log, taskTimeoutSeconds: config.taskTimeoutSeconds, workerScript: options.workerScript, workerOldSpaceMb: config.workerOldSpaceMb,
    // NOT_SERVING while no inference worker is alive: a load balancer sends the work elsewhere.
    onAlive: (alive) => health.set(alive),
  });
  const keys = new ApiKeys(config.apiKeys);
  // The gallery's store opens while the models load; the service is SERVING once both are ready.
  const storeReady = openStore(config.gallery);
  let gallery: Gallery | undefined;
  const galleryOf = (): Gallery => {
    if (!gallery) throw new ServiceError('unavailable', 'the gallery is still opening; retry shortly');
    return gallery;
  };
  const verify = verifyMethod(galleryOf, keys);
  const connect = rpcAdapter({
    routes: (router) => {
      faceServiceRoutes(() => engine, VERSION, verify)(router);
      galleryRoutes(galleryOf, keys)(router);
      healthRoutes(health)(router);
    },
    // Plain unary gRPC calls of the methods that carry photos, the hot paths, skip Connect's
    // per-call machinery.
    direct: [extractMethod(() => engine), enrollMethod(galleryOf, keys), identifyMethod(galleryOf, keys), verify],
    interceptors: [observeRpcs({ keys, metrics, log })],
    readMaxBytes: config.limits.maxBodyBytes,
    // Compressed requests are still accepted, but answers go out uncompressed: they are float
    // vectors and JPEG crops, which gzip barely shrinks, and compressing them cost CPU on both
    // ends (zlib was the server's busiest main-thread function under grpc-js load).
    compressMinBytes: Number.MAX_SAFE_INTEGER,
  }, { keys, admission, limits: config.limits, metrics, log });
  const open = new Set<Response>();
  let idle: (() => void) | undefined;
  const handle = createHandler({
    connect, engine: () => engine, health, corsOrigins: config.corsOrigins, limits: config.limits, admission,
    keys, metrics, log,
  });
  const listener = await listen((req, res) => {
    open.add(res);
    res.once('close', () => {
      open.delete(res);
      if (open.size === 0) idle?.();
    });
    handle(req, res);
  }, {
    port: config.port, host: config.host, tls: config.tls, log,
    // Network edge: timeouts, connection cap, request-body budget (server/http/listener.ts).
    limits: config.network, maxBodyBytes: config.limits.maxBodyBytes, streamingPaths: clientStreamingPaths(),
    onOverloaded: () => metrics.reject('overloaded'),
  });

  const ready = Promise.all([loadEngine(), storeReady]).then(([e, store]) => {
    engine = e;
    gallery = new Gallery(store, () => engine, config.gallery.limits, config.gallery.enrollMinQuality);
    log.info({ backend: store.backend }, 'gallery open');
    health.set(true);
    return e.models;
  });
  ready.catch(() => {
    void listener.close(0);
    void storeReady.then((s) => s.close(), () => undefined);
  });

  return {
    port: listener.port,
    ready,
    async drain() {
      // Watch streams are told NOT_SERVING and end; streams read no more images and end with
      // UNAVAILABLE once their admitted images are answered; new calls are refused UNAVAILABLE.
      // What remains open is bounded by the admission queue, so the drain ends in about a second.
      health.shutdown();
      draining.abort(new ServiceError('unavailable', SHUTTING_DOWN));
      admission.close(SHUTTING_DOWN);
      listener.stopAccepting();
      if (open.size > 0) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, config.drainSeconds * 1000);
          const sweep = setInterval(() => { for (const res of open) closeAnswered(res); }, 50);
          idle = () => {
            clearTimeout(timer);
            clearInterval(sweep);
            resolve();
          };
        });
      }
      // Answers already written (a Watch's last status, a stream's trailers) still reach their clients.
      await listener.close(CLOSE_GRACE_MS);
      await engine?.close();
      await gallery?.close();
    },
  };
}
