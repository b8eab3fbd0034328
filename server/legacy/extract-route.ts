/**
 * POST /extract, the original InsightFace-REST API, unchanged for old clients:
 *   {"images":{"data":[base64, ...]},"max_size":640}
 *   -> [[{"vec":[...],"det":0,"prob":0.99,"bbox":[x1,y1,x2,y2]}, ...], ...]
 * It transcodes to the generated ExtractRequest, calls the same Extractor as the RPCs, and maps
 * the ExtractResponse back. An image that cannot be processed answers [] at its position.
 */
import { create } from '@bufbuild/protobuf';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2';
import {
  ExtractRequestSchema, Gender, ImageSchema, type ExtractRequest, type ExtractResponse,
} from '../../gen/facerest/v1/face_service_pb.js';
import type { Extractor } from '../pipeline/extract.js';
import { refusalHeaders, ServiceError } from '../errors.js';
import type { Logger } from 'pino';
import type { Engine } from '../engine.js';
import { UNAUTHENTICATED_MESSAGE, type ApiKeys } from '../http/auth.js';
import { readBody, sendJson, HttpError } from '../http/body.js';
import type { Handler } from '../http/listener.js';
import type { Metrics } from '../metrics.js';

export interface LegacyFace {
  /** null when extract_embedding is false. */
  vec: number[] | null;
  det: number;
  prob: number;
  bbox: [number, number, number, number];
  /** With return_landmarks: five [x, y] points. */
  landmarks?: [number, number][];
  /** With return_face_data: the aligned 112x112 face, base64 JPEG. */
  facedata?: string;
  /** With extract_ga: age in whole years and gender, 0 female, 1 male (InsightFace's coding). */
  age?: number;
  gender?: number;
}

/** What the JSON asked for beyond the request message itself. */
export interface LegacyOutput {
  landmarks: boolean;
}

const MAX_UINT32 = 0xffffffff;
const DATA_URL = /^data:[^,]*;base64,/;

// Standard or URL-safe alphabet, padding optional, whitespace (line breaks) allowed.
const BASE64 = /^[A-Za-z0-9+/_-]*={0,2}$/;

/** Node's decoder skips characters outside the alphabet; a client bug should be named instead. */
function decodeBase64(text: string, index: number): Buffer {
  const bare = text.replace(DATA_URL, '').replace(/\s+/g, '');
  if (!BASE64.test(bare) || bare.replace(/=+$/, '').length % 4 === 1) {
    throw new HttpError(400, `"images.data[${index}]" is not valid base64`);
  }
  return Buffer.from(bare, 'base64');
}

type Check = (v: unknown) => boolean;
const isUint = (v: unknown) => typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= MAX_UINT32;
const OPTIONS: Record<string, [Check, string]> = {
  max_size: [isUint, 'a non-negative integer (0 = never resize)'],
  threshold: [(v) => typeof v === 'number' && v >= 0 && v <= 1, 'a number from 0 to 1'],
  limit_faces: [isUint, 'a non-negative integer (0 = all faces)'],
  min_face_size: [isUint, 'a non-negative integer (pixels)'],
  return_landmarks: [(v) => typeof v === 'boolean', 'true or false'],
  return_face_data: [(v) => typeof v === 'boolean', 'true or false'],
  extract_embedding: [(v) => typeof v === 'boolean', 'true or false'],
  embed_only: [(v) => typeof v === 'boolean', 'true or false'],
  extract_ga: [(v) => typeof v === 'boolean', 'true or false'],
};

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Validates the legacy JSON body and builds the generated request; throws HttpError(400). */
export function toExtractRequest(body: unknown): { request: ExtractRequest; output: LegacyOutput } {
  if (!isObject(body)) throw new HttpError(400, 'request body must be a JSON object');
  const images = body.images;
  if (!isObject(images)) throw new HttpError(400, '"images" must be an object with a "data" list');
  if (images.urls !== undefined) {
    throw new HttpError(400, '"images.urls" is not supported: facerest never fetches images from URLs; send them in "images.data"');
  }
  const data = images.data;
  if (!Array.isArray(data)) throw new HttpError(400, '"images.data" must be a list of base64-encoded images');
  const bad = data.findIndex((d) => typeof d !== 'string');
  if (bad >= 0) throw new HttpError(400, `"images.data[${bad}]" must be a base64 string, got ${JSON.stringify(data[bad])?.slice(0, 40)}`);
  for (const [key, value] of Object.entries(body)) {
    if (key === 'images' || value === null) continue;
    const option = OPTIONS[key];
    if (!option) throw new HttpError(400, `unknown option "${key}"; known options: ${Object.keys(OPTIONS).join(', ')}`);
    if (!option[0](value)) throw new HttpError(400, `"${key}" must be ${option[1]}, got ${JSON.stringify(value)}`);
  }
  const opt = <T>(key: string) => (body[key] ?? undefined) as T | undefined;
  const request = create(ExtractRequestSchema, {
    images: (data as string[]).map((s, i) => create(ImageSchema, { data: decodeBase64(s, i) })),
    maxSize: opt<number>('max_size'),
    threshold: opt<number>('threshold'),
    limitFaces: opt<number>('limit_faces'),
    minFaceSize: opt<number>('min_face_size'),
    returnFaceData: opt<boolean>('return_face_data'),
    extractEmbedding: opt<boolean>('extract_embedding'),
    embedOnly: opt<boolean>('embed_only'),
    extractGa: opt<boolean>('extract_ga'),
  });
  return { request, output: { landmarks: opt<boolean>('return_landmarks') ?? false } };
}

/** The original response shape; extra fields only when the request asked for them. */
export function toLegacyResponse(res: ExtractResponse, request: ExtractRequest, output: LegacyOutput): LegacyFace[][] {
  const withEmbedding = request.extractEmbedding ?? true;
  return res.results.map((r) => r.faces.map((f) => {
    const face: LegacyFace = {
      vec: withEmbedding ? f.embedding : null,
      det: f.index,
      prob: f.prob,
      bbox: [
        Math.round(f.box?.x1 ?? 0), Math.round(f.box?.y1 ?? 0),
        Math.round(f.box?.x2 ?? 0), Math.round(f.box?.y2 ?? 0),
      ],
    };
    if (output.landmarks) face.landmarks = f.landmarks.map((p) => [p.x, p.y]);
    if (request.returnFaceData) face.facedata = Buffer.from(f.faceData).toString('base64');
    if (request.extractGa) {
      face.age = Math.round(f.age ?? 0);
      face.gender = f.gender === Gender.MALE ? 1 : 0;
    }
    return face;
  }));
}

export interface LegacyRouteDeps {
  /** The loaded engine, or undefined while the models load. */
  engine: () => Engine | undefined;
  maxBodyBytes: number;
  keys: ApiKeys;
  metrics: Metrics;
  log: Logger;
}

/**
 * POST /extract: one log line and the metrics per call, then in order 405 (not POST), 401 (no
 * API key), 415 (not JSON), 503 (models loading), and the extraction itself. A client that
 * goes away before the answer ends the work on its images still queued.
 */
export function legacyExtractRoute(deps: LegacyRouteDeps): Handler {
  return (req, res) => {
    const start = performance.now();
    const reqId = req.headers['x-request-id'] as string;
    res.once('close', () => {
      const seconds = (performance.now() - start) / 1000;
      const outcome = res.writableFinished ? String(res.statusCode) : 'disconnected';
      deps.metrics.request('rest', 'extract', outcome, seconds);
      deps.log.info({ reqId, protocol: 'rest', method: 'extract', outcome, ms: Math.round(seconds * 1000) }, 'rest');
    });
    if (req.method !== 'POST') {
      res.setHeader('allow', 'POST');
      return sendJson(res, 405, { error: 'use POST /extract' });
    }
    if (!deps.keys.allows(req.headers.authorization, req.headers['x-api-key'])) {
      deps.metrics.reject('unauthenticated');
      res.setHeader('www-authenticate', 'Bearer');
      return sendJson(res, 401, { error: UNAUTHENTICATED_MESSAGE });
    }
    // As FastAPI (InsightFace-REST) did: JSON, or no content type at all.
    const type = req.headers['content-type']?.split(';')[0].trim().toLowerCase();
    if (type && type !== 'application/json' && !type.endsWith('+json')) {
      return sendJson(res, 415, { error: `POST /extract takes application/json, not ${type}` });
    }
    const engine = deps.engine();
    if (!engine) return sendJson(res, 503, { error: 'the models are still loading; retry shortly' });
    const gone = new AbortController();
    res.once('close', () => { if (!res.writableFinished) gone.abort(new Error('client disconnected')); });
    handleExtract(engine.extractor, req, res, deps.maxBodyBytes, gone.signal).catch((err: Error) => {
      deps.log.error({ reqId, err }, 'internal error');
      if (!res.headersSent) sendJson(res, 500, { error: `internal error (request id ${reqId})` });
      else res.end();
    });
  };
}

/**
 * `signal` aborts when the client goes away: images not yet in a worker are dropped. Refusals
 * are JSON errors: 400 bad request, 413 over a limit, 429 (with Retry-After) server busy.
 */
async function handleExtract(
  extractor: Extractor, req: IncomingMessage | Http2ServerRequest, res: ServerResponse | Http2ServerResponse,
  maxBodyBytes: number, signal: AbortSignal,
): Promise<void> {
  let parsed: { request: ExtractRequest; output: LegacyOutput };
  try {
    const text = await readBody(req, maxBodyBytes);
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch (err) {
      throw new HttpError(400, `request body is not valid JSON: ${(err as Error).message}`);
    }
    parsed = toExtractRequest(body);
  } catch (err) {
    if (err instanceof HttpError) return sendJson(res, err.status, { error: err.message });
    throw err;
  }
  let response: ExtractResponse;
  try {
    response = await extractor.extract(parsed.request, signal);
  } catch (err) {
    if (signal.aborted) return;
    if (err instanceof ServiceError) {
      for (const [name, value] of Object.entries(refusalHeaders(err))) res.setHeader(name, value);
      return sendJson(res, err.answer.http, { error: err.message });
    }
    throw err;
  }
  sendJson(res, 200, toLegacyResponse(response, parsed.request, parsed.output));
}
