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
  ExtractRequestSchema, ImageSchema, type ExtractRequest, type ExtractResponse,
} from '../../gen/facerest/v1/face_service_pb.js';
import type { Extractor } from '../pipeline/extract.js';
import { readBody, sendJson, HttpError } from '../http/body.js';

export interface LegacyFace {
  vec: number[];
  det: number;
  prob: number;
  bbox: [number, number, number, number];
}

const MAX_UINT32 = 0xffffffff;
const DATA_URL = /^data:[^,]*;base64,/;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Validates the legacy JSON body and builds the generated request; throws HttpError(400). */
export function toExtractRequest(body: unknown): ExtractRequest {
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
  const maxSize = body.max_size;
  if (maxSize !== undefined && maxSize !== null
    && !(typeof maxSize === 'number' && Number.isInteger(maxSize) && maxSize >= 0 && maxSize <= MAX_UINT32)) {
    throw new HttpError(400, `"max_size" must be a non-negative integer (0 = never resize), got ${JSON.stringify(maxSize)}`);
  }
  return create(ExtractRequestSchema, {
    images: (data as string[]).map((s) => create(ImageSchema, { data: Buffer.from(s.replace(DATA_URL, ''), 'base64') })),
    maxSize: typeof maxSize === 'number' ? maxSize : undefined,
  });
}

export function toLegacyResponse(res: ExtractResponse): LegacyFace[][] {
  return res.results.map((r) => r.faces.map((f) => ({
    vec: f.embedding,
    det: f.index,
    prob: f.prob,
    bbox: [
      Math.round(f.box?.x1 ?? 0), Math.round(f.box?.y1 ?? 0),
      Math.round(f.box?.x2 ?? 0), Math.round(f.box?.y2 ?? 0),
    ],
  })));
}

export async function handleLegacyExtract(
  extractor: Extractor, req: IncomingMessage | Http2ServerRequest, res: ServerResponse | Http2ServerResponse,
  maxBodyBytes: number,
): Promise<void> {
  let request: ExtractRequest;
  try {
    const text = await readBody(req, maxBodyBytes);
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch (err) {
      throw new HttpError(400, `request body is not valid JSON: ${(err as Error).message}`);
    }
    request = toExtractRequest(body);
  } catch (err) {
    if (err instanceof HttpError) return sendJson(res, err.status, { error: err.message });
    throw err;
  }
  sendJson(res, 200, toLegacyResponse(await extractor.extract(request)));
}
