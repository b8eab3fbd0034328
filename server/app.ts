/** Assembles the service: models -> worker pool -> routes -> listening port. */
import { connectNodeAdapter } from '@connectrpc/connect-node';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../models/paths.js';
import { selectModels } from '../models/select.js';
import type { ModelDescription } from '../models/types.js';
import type { Config } from './config.js';
import { listen } from './http/listener.js';
import { createHandler } from './http/routes.js';
import { Extractor } from './pipeline/extract.js';
import { WorkerPool } from './pool/worker-pool.js';
import { faceServiceRoutes } from './rpc/face-service.js';
import { HealthState, healthRoutes } from './rpc/health.js';

export const VERSION: string = JSON.parse(readFileSync(join(PROJECT_ROOT, 'package.json'), 'utf8')).version;

export interface RunningServer {
  port: number;
  models: ModelDescription[];
  /** Graceful stop: NOT_SERVING, no new connections, admitted requests finish (up to the drain time). */
  drain(): Promise<void>;
}

export async function startServer(config: Config): Promise<RunningServer> {
  const health = new HealthState();
  const pool = await WorkerPool.start(selectModels(config), config.workers);
  const extractor = new Extractor(pool);
  const connect = connectNodeAdapter({
    routes: (router) => {
      faceServiceRoutes(extractor, pool.models, VERSION)(router);
      healthRoutes(health)(router);
    },
    readMaxBytes: config.maxBodyBytes,
  });
  let active = 0;
  let idle: (() => void) | undefined;
  const handle = createHandler({ connect, extractor, health, corsOrigins: config.corsOrigins, maxBodyBytes: config.maxBodyBytes });
  const listener = await listen((req, res) => {
    active++;
    res.once('close', () => {
      if (--active === 0) idle?.();
    });
    handle(req, res);
  }, config.port, config.host);
  health.set(true);

  return {
    port: listener.port,
    models: pool.models,
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
      await pool.close();
    },
  };
}
