/**
 * Request routing on the one port: CORS, GET /healthz, the legacy POST /extract, the web page's
 * files, and everything else to the Connect adapter (Connect, gRPC and gRPC-Web protocols).
 */
import type { Engine } from '../engine.js';
import { handleLegacyExtract } from '../legacy/extract-route.js';
import type { HealthState } from '../rpc/health.js';
import { sendJson } from './body.js';
import { applyCors, type AllowedOrigins } from './cors.js';
import type { Handler } from './listener.js';
import { webPage } from './web-page.js';

export interface RouteDeps {
  connect: Handler;
  /** The loaded engine, or undefined while the models load. */
  engine: () => Engine | undefined;
  health: HealthState;
  corsOrigins: AllowedOrigins;
  maxBodyBytes: number;
}

export function createHandler(deps: RouteDeps): Handler {
  const page = webPage();
  return (req, res) => {
    if (applyCors(deps.corsOrigins, req, res)) return;
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/healthz') {
      const serving = deps.health.serving;
      return sendJson(res, serving ? 200 : 503, { status: serving ? 'SERVING' : 'NOT_SERVING' });
    }
    if (path === '/extract') {
      if (req.method !== 'POST') {
        res.setHeader('allow', 'POST');
        return sendJson(res, 405, { error: 'use POST /extract' });
      }
      const engine = deps.engine();
      if (!engine) return sendJson(res, 503, { error: 'the models are still loading; retry shortly' });
      handleLegacyExtract(engine.extractor, req, res, deps.maxBodyBytes).catch((err: Error) => {
        console.error(`facerest: /extract failed: ${err.stack ?? err.message}`);
        if (!res.headersSent) sendJson(res, 500, { error: 'internal error' });
        else res.end();
      });
      return;
    }
    if (page(req, res, path)) return;
    deps.connect(req, res);
  };
}
