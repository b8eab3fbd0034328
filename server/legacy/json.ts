/**
 * The InsightFace-REST JSON of POST /extract and the generated messages, both ways:
 *   {"images":{"data":[base64, ...]},"max_size":640}
 *   -> [[{"vec":[...],"det":0,"prob":0.99,"bbox":[x1,y1,x2,y2]}, ...], ...]
 * The body is scanned while it arrives (entries counted, nesting bounded) before JSON.parse
 * builds anything, and no answer ever echoes more than a short excerpt of what was sent.
 */
import { create, fromJson, ScalarType, type JsonObject } from '@bufbuild/protobuf';
import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Http2ServerRequest } from 'node:http2';
import {
  ExtractOptionsSchema, ExtractRequestSchema, Gender, ImageSchema, type ExtractOptions, type ExtractRequest, type ExtractResponse,
} from '../../gen/facerest/v1/face_service_pb.js';
import type { Limits } from '../config.js';
import { ServiceError, serviceErrorOf } from '../errors.js';
import { bodyTooLarge } from '../http/preflight.js';
import { jsonBudget } from '../parse/budgets.js';
import { JsonScanner, type StringSpan } from '../parse/json-scan.js';
import type { OptionNames } from '../pipeline/options.js';

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
  /** With extract_ga, when an age model is loaded: age in whole years. */
  age?: number;
  /** With extract_ga, when a gender model is loaded: 0 female, 1 male (InsightFace's coding). */
  gender?: number;
  /** With return_quality (a facerest key): the face's quality, as the RPC's FaceQuality. */
  quality?: LegacyQuality;
}

export interface LegacyQuality {
  yaw: number;
  pitch: number;
  roll: number;
  sharpness: number;
  brightness: number;
  size_px: number;
  overall: number;
}

/** What the JSON asked for beyond the request message itself. */
export interface LegacyOutput {
  landmarks: boolean;
  quality: boolean;
  /** Positions of images over the byte limit: never decoded, answered [] as any failed image. */
  skipped: number[];
}

const DATA_URL = /^data:[^,]*;base64,/;
// Standard or URL-safe alphabet, padding optional, whitespace (line breaks) allowed.
const BASE64 = /^[A-Za-z0-9+/_-]*={0,2}$/;
const EQUALS = 0x3d;

/** A value as an answer may quote it: short, whatever was sent. */
export function excerpt(v: unknown): string {
  if (typeof v === 'string') return v.length > 40 ? `${JSON.stringify(v.slice(0, 40))}... (${v.length} characters)` : JSON.stringify(v);
  if (typeof v === 'number' || typeof v === 'boolean' || v === null) return String(v);
  if (Array.isArray(v)) return `a list of ${v.length}`;
  return 'an object';
}

/**
 * Reads the body, counting while it arrives: more than maxImages entries in images.data, a
 * body over the limit or JSON nested too deep is refused before the rest is read or parsed.
 * Returns what JSON.parse would, but for clean base64 in images.data, which comes as a
 * Base64Image (parseLegacyBody).
 */
export async function readLegacyBody(req: IncomingMessage | Http2ServerRequest, limits: Limits): Promise<unknown> {
  const scanner = new JsonScanner(jsonBudget(limits, ['images', 'data']));
  const chunks: Buffer[] = [];
  let size = 0;
  // A refusal leaves the rest of the body unread but the request alive, so that the answer
  // can still reach the client (a for-await loop would destroy the request as it stops).
  try {
    for await (const chunk of req.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > limits.maxBodyBytes) throw bodyTooLarge(limits.maxBodyBytes);
      scanner.write(chunk);
      chunks.push(chunk);
    }
  } catch (err) {
    // The network layer refuses a body that does not fit the server's budget by failing the
    // request with the refusal (http/exchange.ts).
    throw serviceErrorOf(err) ?? err;
  }
  return parseLegacyBody(Buffer.concat(chunks, size), scanner.spans, limits.maxImageBytes);
}

/** An images.data entry that was clean base64, decoded from the body's bytes. */
export class Base64Image {
  constructor(readonly bytes: Buffer) {}
}

/**
 * What a clean images.data string becomes before JSON.parse sees the body: a string that no
 * client can send, as the per-process nonce cannot be guessed, followed by the span's number.
 */
const PLACEHOLDER = `\\u0000facerest-${randomBytes(8).toString('hex')}:`;
const PLACEHOLDER_VALUE = JSON.parse(`"${PLACEHOLDER}"`) as string;

function parseWhole(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch (err) {
    throw new ServiceError('invalid', `request body is not valid JSON: ${(err as Error).message.slice(0, 200)}`);
  }
}

/**
 * The body as JSON.parse reads it, but without making strings of its images. JSON.parse of the
 * whole body copied each image twice into V8's heap (the body as one string, then each value),
 * on fresh pages each time: one thread, with the scan and toExtractRequest, 27 to 35 ms for a
 * body with one 2.3 MB photo, 4.5 to 6.1 for a 460 KB one; read this way, 1.0 and 0.56. The
 * scanner's spans of images.data (JsonScanner) are taken out of the text JSON.parse reads, and
 * each is decoded from the body's bytes when it is clean base64 (cleanSize), whose bytes are
 * then its value, as no character of the alphabet is escaped or refused by JSON. Anything else
 * gets exactly what JSON.parse gave: an escaped or unclean string is read by JSON.parse alone (a
 * string reads the same wherever it stands), and where that fails, or images.data is not made
 * of the spans one to one (a key given twice), the whole body is parsed as before, so that a
 * refusal says what it always said (test/legacy-body.test.ts).
 */
export function parseLegacyBody(body: Buffer, spans: readonly StringSpan[], maxImageBytes: number): unknown {
  // An image over maxImageBytes is skipped undecoded (toExtractRequest), so it stays a string.
  const taken = spans.filter((s) => !s.escaped && Math.floor(((s.end - s.start) * 3) / 4) <= maxImageBytes);
  if (taken.length === 0) return parseWhole(body);
  let text = '';
  let at = 0;
  taken.forEach((span, k) => {
    text += `${body.toString('utf8', at, span.start)}${PLACEHOLDER}${k}`;
    at = span.end;
  });
  let parsed: unknown;
  try {
    parsed = JSON.parse(text + body.toString('utf8', at));
  } catch {
    return parseWhole(body);
  }
  const data = isObject(parsed) && isObject(parsed.images) ? parsed.images.data : undefined;
  if (!Array.isArray(data)) return parseWhole(body);
  let used = 0;
  for (let i = 0; i < data.length; i++) {
    const entry: unknown = data[i];
    if (typeof entry !== 'string' || !entry.startsWith(PLACEHOLDER_VALUE)) continue;
    const span = taken[Number(entry.slice(PLACEHOLDER_VALUE.length))];
    const bytes = cleanBase64At(body, span.start, span.end);
    if (bytes) {
      data[i] = new Base64Image(bytes);
    } else {
      try {
        data[i] = JSON.parse(body.toString('utf8', span.start - 1, span.end + 1));
      } catch {
        return parseWhole(body);
      }
    }
    used++;
  }
  return used === taken.length ? parsed : parseWhole(body);
}

/**
 * Clean base64 (standard or URL-safe alphabet, padding optional) is decoded once and recognised
 * by its length: each character Node's decoder skipped (one outside the alphabet, a line break,
 * a data URL's prefix) or stopped at (a misplaced '=') would have left fewer bytes, unless the
 * characters before the padding leave a remainder of 1 mod 4, which is never clean. The bytes
 * `length` characters ending in `padding` '=' decode to when clean; -1 where they cannot be.
 */
function cleanSize(length: number, padding: number): number {
  const chars = length - padding;
  return chars % 4 === 1 ? -1 : Math.floor((chars * 3) / 4);
}

/** The bytes of a clean base64 string (cleanSize), else undefined. */
function cleanBase64(text: string): Buffer | undefined {
  let padding = 0;
  while (padding < 2 && text.charCodeAt(text.length - 1 - padding) === EQUALS) padding++;
  const size = cleanSize(text.length, padding);
  if (size < 0) return undefined;
  const bytes = Buffer.from(text, 'base64');
  return bytes.length === size ? bytes : undefined;
}

/**
 * Characters of the body's base64 made into a string at a time: small enough for V8's young
 * generation, whose pages are used again, where one string of a whole photo took fresh pages
 * (one thread: a 0.45 MB photo 4.0 ms as one string, 0.22 in pieces; 3 MB, 3.1 and 2.0). A
 * multiple of 4, so that each piece of clean base64 decodes to three quarters of its length.
 */
const PIECE_CHARS = 1 << 16;

/** The bytes of clean base64 (cleanSize) between start and end in the body, else undefined. */
function cleanBase64At(body: Buffer, start: number, end: number): Buffer | undefined {
  let padding = 0;
  while (padding < 2 && end - padding > start && body[end - 1 - padding] === EQUALS) padding++;
  const size = cleanSize(end - start, padding);
  if (size < 0) return undefined;
  const bytes = Buffer.allocUnsafe(size);
  let written = 0;
  for (let at = start; at < end; at += PIECE_CHARS) {
    const stop = Math.min(end, at + PIECE_CHARS);
    const n = bytes.write(body.toString('latin1', at, stop), written, 'base64');
    if (stop < end && n !== (PIECE_CHARS / 4) * 3) return undefined;
    written += n;
  }
  return written === size ? bytes : undefined;
}

/**
 * An image's base64. The common case, a clean string (cleanBase64), is decoded once; everything
 * else gets the strict reading, whose three regular-expression scans took 0.14-0.20 ms for a
 * 640-px photo's base64 and 5.9 ms for img1.jpg's 3 MB (one thread); the length check, 0.014
 * and 1.8.
 */
export function decodeBase64(text: string, index: number): Buffer {
  return cleanBase64(text) ?? decodeBase64Strictly(text, index);
}

/** Node's decoder skips characters outside the alphabet; a client bug should be named instead. */
export function decodeBase64Strictly(text: string, index: number): Buffer {
  const bare = text.replace(DATA_URL, '').replace(/\s+/g, '');
  if (!BASE64.test(bare) || bare.replace(/=+$/, '').length % 4 === 1) {
    throw new ServiceError('invalid', `"images.data[${index}]" is not valid base64`);
  }
  return Buffer.from(bare, 'base64');
}

/**
 * InsightFace-REST's option keys, each mapped onto a field of the contract's ExtractOptions
 * (`map` adapts a value first). A value's JSON type must be the field's protobuf type, strictly
 * (no numbers as strings, as InsightFace-REST's own validation had it); ranges are checked where
 * every protocol's are (pipeline/options.ts). A Map: keys are looked up as they come, and
 * "constructor" or "__proto__" must not find Object.prototype's.
 */
const OPTION_FIELDS = new Map<string, { field: string; map?: (v: unknown) => unknown }>([
  // Later InsightFace-REST clients send [width, height]; its larger value caps the larger side.
  ['max_size', {
    field: 'max_size',
    map: (v) => (Array.isArray(v) && v.length === 2 && v.every(isUint32) ? Math.max(...(v as number[])) : v),
  }],
  ['threshold', { field: 'detection_threshold' }],
  ['limit_faces', { field: 'keep_largest_faces' }],
  ['min_face_size', { field: 'min_face_size_px' }],
  ['return_face_data', { field: 'return_aligned_face' }],
  ['extract_embedding', { field: 'skip_embedding', map: (v) => (typeof v === 'boolean' ? !v : v) }],
  ['embed_only', { field: 'aligned_input' }],
  ['extract_ga', { field: 'return_age_gender' }],
  // facerest's own: drop faces under this quality.
  ['min_quality', { field: 'min_quality' }],
]);

/** Keys of this route's own output, checked here as they map onto no option. */
const OUTPUT_KEYS = new Map<string, [check: (v: unknown) => boolean, expected: string]>([
  ['return_landmarks', [(v) => typeof v === 'boolean', 'true or false']],
  // facerest's own: each face's quality, absent otherwise so that old clients see the same answer.
  ['return_quality', [(v) => typeof v === 'boolean', 'true or false']],
  // InsightFace-REST's output format; "1" is the one this route (and that server's clients) speak.
  ['api_ver', [(v) => v === '1' || v === 1, '"1" (the only output format served)']],
]);

const KNOWN_KEYS = [...OPTION_FIELDS.keys(), ...OUTPUT_KEYS.keys()];

/** The option names of refusals made by the pipeline, as this route's clients spell them. */
export const LEGACY_OPTION_NAMES: OptionNames = { detectionThreshold: 'threshold', returnAgeGender: 'extract_ga', minQuality: 'min_quality' };

function isUint32(v: unknown): boolean {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 0xffffffff;
}

/** The JSON a field's protobuf type takes, strictly: its test, and how to say it. */
function jsonTypeOf(field: string): [check: (v: unknown) => boolean, expected: string] {
  const f = ExtractOptionsSchema.fields.find((x) => x.name === field);
  const scalar = f?.fieldKind === 'scalar' ? f.scalar : undefined;
  if (scalar === ScalarType.BOOL) return [(v) => typeof v === 'boolean', 'true or false'];
  if (scalar === ScalarType.UINT32) {
    return [isUint32, field === 'max_size' ? 'a non-negative integer (0 = never resize) or a list of two, [width, height]' : 'a non-negative integer'];
  }
  return [(v) => typeof v === 'number' && Number.isFinite(v), 'a number'];
}

/** The options of a legacy body as the contract's message; throws an 'invalid' ServiceError naming the key. */
function legacyOptions(body: Record<string, unknown>): ExtractOptions {
  const json: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(body)) {
    if (key === 'images' || value === null) continue;
    const output = OUTPUT_KEYS.get(key);
    if (output) {
      if (!output[0](value)) throw new ServiceError('invalid', `"${key}" must be ${output[1]}, got ${excerpt(value)}`);
      continue;
    }
    const option = OPTION_FIELDS.get(key);
    if (!option) throw new ServiceError('invalid', `unknown option ${excerpt(key)}; known options: ${KNOWN_KEYS.join(', ')}`);
    const mapped = option.map ? option.map(value) : value;
    const [check, expected] = jsonTypeOf(option.field);
    if (!check(mapped)) throw new ServiceError('invalid', `"${key}" must be ${expected}, got ${excerpt(value)}`);
    json[option.field] = mapped;
  }
  return fromJson(ExtractOptionsSchema, json as JsonObject);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Bytes a base64 text decodes to; the cheap bound first, the exact count only near the limit. */
function overLimit(text: string, limit: number): boolean {
  if (Math.floor((text.length * 3) / 4) <= limit) return false;
  const bare = text.replace(DATA_URL, '').replace(/\s+/g, '').replace(/=+$/, '');
  return Math.floor((bare.length * 3) / 4) > limit;
}

/**
 * Validates the legacy JSON body and builds the generated request; throws an 'invalid'
 * ServiceError naming the problem. Images over maxImageBytes are not decoded (see LegacyOutput).
 */
export function toExtractRequest(body: unknown, maxImageBytes: number): { request: ExtractRequest; output: LegacyOutput } {
  if (!isObject(body)) throw new ServiceError('invalid', 'request body must be a JSON object');
  const images = body.images;
  if (!isObject(images)) throw new ServiceError('invalid', '"images" must be an object with a "data" list');
  if (images.urls !== undefined) {
    throw new ServiceError('invalid', '"images.urls" is not supported: facerest never fetches images from URLs; send them in "images.data"');
  }
  const data = images.data;
  if (!Array.isArray(data)) throw new ServiceError('invalid', '"images.data" must be a list of base64-encoded images');
  const bad = data.findIndex((d) => typeof d !== 'string' && !(d instanceof Base64Image));
  if (bad >= 0) throw new ServiceError('invalid', `"images.data[${bad}]" must be a base64 string, got ${excerpt(data[bad])}`);
  const options = legacyOptions(body);
  const skipped: number[] = [];
  const decoded: Buffer[] = [];
  (data as (string | Base64Image)[]).forEach((s, i) => {
    if (s instanceof Base64Image) decoded.push(s.bytes);
    else if (overLimit(s, maxImageBytes)) skipped.push(i);
    else decoded.push(decodeBase64(s, i));
  });
  const request = create(ExtractRequestSchema, { images: decoded.map((d) => create(ImageSchema, { data: d })), options });
  return { request, output: { landmarks: body.return_landmarks === true, quality: body.return_quality === true, skipped } };
}

/** The original response shape; extra fields only when the request asked for them and a model gave them. */
export function toLegacyResponse(res: ExtractResponse, request: ExtractRequest, output: LegacyOutput): LegacyFace[][] {
  const options = request.options;
  const answers = res.results.map((r) => r.faces.map((f, index) => {
    const face: LegacyFace = {
      vec: options?.skipEmbedding ? null : f.embedding,
      det: index,
      prob: f.score,
      bbox: [
        Math.round(f.box?.x1 ?? 0), Math.round(f.box?.y1 ?? 0),
        Math.round(f.box?.x2 ?? 0), Math.round(f.box?.y2 ?? 0),
      ],
    };
    if (output.landmarks) face.landmarks = f.landmarks.map((p) => [p.x, p.y]);
    if (options?.returnAlignedFace) face.facedata = Buffer.from(f.alignedFace).toString('base64');
    if (options?.returnAgeGender) {
      // As the RPC: an attribute no loaded model gives is absent, not 0.
      if (f.age !== undefined) face.age = Math.round(f.age);
      if (f.gender !== Gender.UNSPECIFIED) face.gender = f.gender === Gender.MALE ? 1 : 0;
    }
    if (output.quality && f.quality) {
      const { yaw, pitch, roll, sharpness, brightness, sizePx, overall } = f.quality;
      face.quality = { yaw, pitch, roll, sharpness, brightness, size_px: sizePx, overall };
    }
    return face;
  }));
  for (const i of output.skipped) answers.splice(i, 0, []);
  return answers;
}
