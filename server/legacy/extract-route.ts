/**
 * POST /extract, the original InsightFace-REST API, unchanged for old clients (the JSON both
 * ways is in json.ts). It transcodes to the generated ExtractRequest and calls the same
 * Extractor as the RPCs. An image that cannot be processed answers [] at its position.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2';
import type { Logger } from 'pino';
import type { ExtractResponse } from '../../gen/facerest/v1/face_service_pb.js';
import type { Limits } from '../config.js';
import type { Engine } from '../engine.js';
import { ServiceError } from '../errors.js';
import type { ApiKeys } from '../http/auth.js';
import { sendJson, sendRefusal } from '../http/body.js';
import { answered } from '../http/exchange.js';
import type { Route } from '../http/listener.js';
import { declaredTooLarge, missingKey } from '../http/preflight.js';
import type { Metrics } from '../metrics.js';
import type { Admission } from '../pipeline/admission.js';
import type { Call, Extractor } from '../pipeline/extract.js';
import { LEGACY_OPTION_NAMES, readLegacyBody, toExtractRequest, toLegacyResponse } from './json.js';

export interface LegacyRouteDeps {
  /** The loaded engine, or undefined while the models load. */
  engine: () => Engine | undefined;
  limits: Limits;
  admission: Admission;
  keys: ApiKeys;
  metrics: Metrics;
  log: Logger;
}

type Req = IncomingMessage | Http2ServerRequest;
type Res = ServerResponse | Http2ServerResponse;

/**
 * POST /extract: one log line and the metrics per call. Before a byte of the body is read, in
 * order: 405 (not POST), 401 (no API key), 415 (not JSON), 503 (models loading), 413 (declared
 * body over the limit), 429 (no room in the queue). Then the body and the extraction. A client
 * that goes away ends the work on its images still queued, and is logged as a disconnect.
 */
export function legacyExtractRoute(deps: LegacyRouteDeps): Route {
  return (req, res, reqId) => {
    const start = performance.now();
    res.once('close', () => {
      const seconds = (performance.now() - start) / 1000;
      const outcome = answered(res) ? String(res.statusCode) : 'disconnected';
      deps.metrics.request('rest', 'extract', outcome, seconds);
      deps.log.info({ reqId, protocol: 'rest', method: 'extract', outcome, ms: Math.round(seconds * 1000) }, 'rest');
    });
    if (req.method !== 'POST') {
      res.setHeader('allow', 'POST');
      return sendJson(res, 405, { error: 'use POST /extract' });
    }
    const unauthenticated = missingKey(deps.keys, req.headers);
    if (unauthenticated) {
      deps.metrics.reject('unauthenticated');
      return sendRefusal(res, unauthenticated);
    }
    // As FastAPI (InsightFace-REST) did: JSON, or no content type at all.
    const type = req.headers['content-type']?.split(';')[0].trim().toLowerCase();
    if (type && type !== 'application/json' && !type.endsWith('+json')) {
      return sendJson(res, 415, { error: `POST /extract takes application/json, not ${type.slice(0, 100)}` });
    }
    const engine = deps.engine();
    if (!engine) return sendRefusal(res, new ServiceError('unavailable', 'the models are still loading; retry shortly'));
    const early = declaredTooLarge(req.headers, deps.limits.maxBodyBytes) ?? deps.admission.refusal();
    if (early) {
      deps.metrics.reject(early.kind === 'limit' ? 'limit' : 'overloaded');
      return sendRefusal(res, early);
    }
    const gone = new AbortController();
    res.once('close', () => { if (!answered(res)) gone.abort(new Error('client disconnected')); });
    handleExtract(engine.extractor, req, res, deps, { reqId, signal: gone.signal }).catch((err: Error) => {
      if (gone.signal.aborted || res.destroyed || req.destroyed || err.message === 'aborted') {
        deps.log.debug({ reqId, err }, 'client went away');
        return;
      }
      deps.log.error({ reqId, err }, 'internal error');
      if (!res.headersSent) sendJson(res, 500, { error: `internal error (request id ${reqId})` });
      else res.end();
    });
  };
}

/** The call's signal aborts when the client goes away: images not yet in a worker are dropped. */
async function handleExtract(
  extractor: Extractor, req: Req, res: Res, deps: LegacyRouteDeps, call: Required<Call>,
): Promise<void> {
  let parsed: ReturnType<typeof toExtractRequest>;
  try {
    parsed = toExtractRequest(await readLegacyBody(req, deps.limits), deps.limits.maxImageBytes);
  } catch (err) {
    if (call.signal.aborted || !(err instanceof ServiceError)) throw err;
    if (err.kind === 'limit') deps.metrics.reject('limit');
    return sendRefusal(res, err);
  }
  for (const _ of parsed.output.skipped) deps.metrics.image(false, 0);
  let response: ExtractResponse;
  try {
    // The Extractor counts its own refusals.
    response = await extractor.extract(parsed.request, call, LEGACY_OPTION_NAMES);
  } catch (err) {
    if (call.signal.aborted) return;
    if (err instanceof ServiceError) return sendRefusal(res, err);
    throw err;
  }
  sendJson(res, 200, toLegacyResponse(response, parsed.request, parsed.output));
}
