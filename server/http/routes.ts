/**
 * Request routing on the one port: request ids, CORS, GET /healthz, GET /metrics, the legacy
 * POST /extract, the web page's files, and everything else to the RPC adapter (Connect, gRPC
 * and gRPC-Web protocols; it checks keys from the headers, its interceptor logs each call).
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { Limits } from '../config.js';
import type { Engine } from '../engine.js';
import { legacyExtractRoute } from '../legacy/extract-route.js';
import type { Metrics } from '../metrics.js';
import type { Admission } from '../pipeline/admission.js';
import type { HealthState } from '../rpc/health.js';
import type { ApiKeys } from './auth.js';
import { sendJson } from './body.js';
import { applyCors, type AllowedOrigins } from './cors.js';
import type { Handler, Route } from './listener.js';
import { webPage } from './web-page.js';

export interface RouteDeps {
  connect: Route;
  /** The loaded engine, or undefined while the models load. */
  engine: () => Engine | undefined;
  health: HealthState;
  corsOrigins: AllowedOrigins;
  limits: Limits;
  admission: Admission;
  keys: ApiKeys;
  metrics: Metrics;
  log: Logger;
}

/** A caller's own id if it is a sane token (so logs can be joined across services), else a new one. */
function requestId(header: string | string[] | undefined): string {
  const given = Array.isArray(header) ? header[0] : header;
  return given && /^[\w.:-]{1,128}$/.test(given) ? given : randomUUID();
}

export function createHandler(deps: RouteDeps): Handler {
  const page = webPage();
  const legacy = legacyExtractRoute(deps);
  return (req, res) => {
    const reqId = requestId(req.headers['x-request-id']);
    res.setHeader('x-request-id', reqId);
    route(req, res, reqId);
  };

  function route(...[req, res, reqId]: Parameters<Route>): void {
    const path = (req.url ?? '/').split('?')[0];
    if (applyCors(deps.corsOrigins, req, res)) return;
    if (path === '/healthz') {
      const serving = deps.health.serving;
      return sendJson(res, serving ? 200 : 503, { status: serving ? 'SERVING' : 'NOT_SERVING' });
    }
    if (path === '/metrics' && req.method === 'GET') {
      void deps.metrics.registry.metrics().then((text) => {
        res.writeHead(200, { 'content-type': deps.metrics.registry.contentType });
        res.end(text);
      });
      return;
    }
    if (path === '/extract') return legacy(req, res, reqId);
    if (page(req, res, path)) return;
    deps.connect(req, res, reqId);
  }
}
