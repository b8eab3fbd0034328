/** Configuration from the environment, validated once at startup. */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { availableParallelism } from 'node:os';
import type { GalleryLimits } from './gallery/service.js';
import type { ApiKey } from './http/auth.js';
import type { AllowedOrigins } from './http/cors.js';
import { DEFAULT_WORKER_OLD_SPACE_MB } from './pool/worker-pool.js';
import { DEFAULT_MAX_PIXELS } from './pipeline/decode.js';
import { DEFAULT_DECODER, type Decoder } from './pipeline/turbojpeg.js';
import type { ModelOverrides } from '../models/packs/select.js';
import { NATIVE_SWITCH } from '../native/addons.js';

/** What one request may ask of the server; beyond these it gets a clear refusal. */
export interface Limits {
  /** Whole request body (REST JSON, RPC message). */
  maxBodyBytes: number;
  /** Images in one Extract request or POST /extract. */
  maxImages: number;
  /** One encoded image. */
  maxImageBytes: number;
  /** Decoded pixels of one image, checked from its header before decoding (decompression bombs). */
  maxPixels: number;
  /** Images in one ExtractStream. */
  maxStreamImages: number;
}

export interface TlsFiles {
  cert: Buffer;
  key: Buffer;
}

/** Where the gallery lives: PostgreSQL when a URL is given, else SQLite in dataDir. */
export interface GallerySettings {
  /** FACEREST_DATA_DIR: the embedded store's folder. */
  dataDir: string;
  /** FACEREST_DATABASE_URL: postgres://... (PostgreSQL with pgvector). */
  databaseUrl?: string;
  /** FACEREST_DATABASE_POOL_SIZE: connections to PostgreSQL. */
  databasePoolSize: number;
  limits: GalleryLimits;
  /** FACEREST_ENROLL_MIN_QUALITY: Enroll refuses a face whose overall quality is under this. */
  enrollMinQuality: number;
}

/** The network edge (server/http/): timeouts and caps for clients that stall, flood or never read. */
export interface NetworkLimits {
  /** Open TCP connections; more are answered 503 (HTTP/1.1) or GOAWAY (HTTP/2) and closed. */
  maxConnections: number;
  /** Concurrent streams on one HTTP/2 connection (SETTINGS_MAX_CONCURRENT_STREAMS). */
  maxStreamsPerConnection: number;
  /** A new connection must send a whole request head (or open its first HTTP/2 stream) within this. */
  headersTimeoutSeconds: number;
  /** A connection with no request in progress is closed after this (HTTP/1.1 keep-alive, HTTP/2 GOAWAY). */
  idleTimeoutSeconds: number;
  /** A request body that sends no bytes for this long is ended (408 / RST_STREAM). */
  bodyTimeoutSeconds: number;
  /** A whole request of a unary call (head and body) must arrive within this (not client streams). */
  requestTimeoutSeconds: number;
  /** A response the client does not read for this long is dropped and its memory released. */
  writeTimeoutSeconds: number;
  /** Request-body bytes held server-wide (being received, or received and not yet answered). */
  bodyBudgetBytes: number;
  /** Requests (HTTP/2 streams) in progress server-wide; more are refused (503 / REFUSED_STREAM). */
  maxRequests: number;
}

/** The models (FACEREST_PACK and the single-model paths) are ModelOverrides' fields. */
export interface Config extends ModelOverrides {
  port: number;
  host: string;
  /** Inference worker threads (one ONNX Runtime session set each). */
  workers: number;
  /** The model pack (FACEREST_PACK); 'custom' = models by path only. */
  pack: string;
  /** Rewrite slow operators when loading models (FACEREST_GRAPH_REWRITE=off turns it off). */
  graphRewrite: boolean;
  /** Who decodes plain JPEGs (FACEREST_JPEG_DECODER): libjpeg-turbo where it loads, else sharp. */
  jpegDecoder: Decoder;
  /** facerest's C addons where built (FACEREST_NATIVE=off: none; native/addons.ts reads it in every thread). */
  native: boolean;
  corsOrigins: AllowedOrigins;
  limits: Limits;
  /** Images admitted and not yet answered, server-wide; unary requests beyond it get 429. */
  maxQueue: number;
  /** How long SIGTERM waits for admitted requests before closing. */
  drainSeconds: number;
  /** Accepted API keys; empty = no authentication. */
  apiKeys: ApiKey[];
  tls?: TlsFiles;
  logLevel: string;
  // Scheduling and resource budgets (issue 10: admission, worker pool, drain).
  /** Images that streams may hold together in the admission queue; the rest stays for unary requests. */
  maxStreamQueue: number;
  /** Decoded pixels in flight server-wide (decoded and not yet answered); more waits its turn. */
  maxPixelsInFlight: number;
  /** Faces returned per image, the most probable first; 0 = no cap. */
  maxFaces: number;
  /** Worker time per image in milliseconds, checked between groups of faces; 0 = none. */
  imageBudgetMs: number;
  /** A task running longer than this in a worker is failed and the worker replaced. */
  taskTimeoutSeconds: number;
  /** Old-generation room each worker's V8 heap starts with, in MB; 0 = V8's default (issue 14). */
  workerOldSpaceMb: number;
  /** Network edge (server/http/listener.ts). */
  network: NetworkLimits;
  /** The gallery's storage and limits (issue 12). */
  gallery: GallerySettings;
}

// Scheduling and resource budgets (issue 10); the numbers behind them are in the README.
/** 100 megapixels decoded at once: 300 MB of RGB, about 1 GB at the peak with the workers' copies. */
const DEFAULT_PIXELS_IN_FLIGHT = 100_000_000;
/** Above every crowd measured (lumia.jpg: 493 faces, YuNet-s at max_size 0); 5x what AWS and Azure return. */
const DEFAULT_MAX_FACES = 500;
/** 2.4x the 4.1 s that the 493-face crowd took on an idle worker. */
const DEFAULT_IMAGE_BUDGET_MS = 10_000;

/** See README "Face quality": the overall score of the shared photos' faces and what leaving out faces under it does. */
const DEFAULT_ENROLL_MIN_QUALITY = 0.3;

function integer(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new Error(`${name} must be an integer from ${min} to ${max}, got '${raw}'`);
  }
  return n;
}

function fraction(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < 0 || n > 1) throw new Error(`${name} must be a number from 0 to 1, got '${raw}'`);
  return n;
}

const path = (env: NodeJS.ProcessEnv, name: string) => env[name] || undefined;

function onOff(env: NodeJS.ProcessEnv, name: string, fallback: boolean): boolean {
  const v = env[name];
  if (v === undefined || v === '') return fallback;
  if (v === 'on') return true;
  if (v === 'off') return false;
  throw new Error(`${name} must be 'on' or 'off' (got '${v}')`);
}

function jpegDecoder(env: NodeJS.ProcessEnv): Decoder {
  const v = env.FACEREST_JPEG_DECODER;
  if (v === undefined || v === '') return DEFAULT_DECODER;
  if (v === 'libjpeg-turbo' || v === 'sharp') return v;
  throw new Error(`FACEREST_JPEG_DECODER must be 'libjpeg-turbo' or 'sharp' (got '${v}')`);
}

function readConfigFile(name: string, file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new Error(`${name}: cannot read ${file}: ${(err as Error).message}`);
  }
}

/** Keys from FACEREST_API_KEYS (comma-separated) and FACEREST_API_KEYS_FILE (one per line, # comments). */
/** A line of the keys file: `<key>`, or `<key> collections=a,b` for a key scoped to those gallery collections. */
function keyLine(line: string): ApiKey {
  const [key, ...rest] = line.split(/\s+/);
  if (rest.length === 0) return { key };
  const scope = /^collections=([A-Za-z0-9_.,-]+)$/.exec(rest.join(' '));
  if (!scope || rest.length > 1) throw new Error(`FACEREST_API_KEYS_FILE: after a key, only "collections=<name>,<name>" may follow (got "${rest.join(' ')}")`);
  return { key, collections: scope[1].split(',').filter(Boolean) };
}

function apiKeys(env: NodeJS.ProcessEnv): ApiKey[] {
  const keys: ApiKey[] = (env.FACEREST_API_KEYS ?? '').split(',').map((k) => ({ key: k.trim() }));
  const file = path(env, 'FACEREST_API_KEYS_FILE');
  if (file) {
    const lines = readConfigFile('FACEREST_API_KEYS_FILE', file).toString('utf8').split(/\r?\n/).map((l) => l.trim());
    keys.push(...lines.filter((l) => l && !l.startsWith('#')).map(keyLine));
  }
  const cleaned = keys.filter((k) => k.key);
  if (cleaned.some((k) => k.key.length < 16)) throw new Error('API keys must be at least 16 characters long');
  return cleaned;
}

function tls(env: NodeJS.ProcessEnv): TlsFiles | undefined {
  const cert = path(env, 'FACEREST_TLS_CERT');
  const key = path(env, 'FACEREST_TLS_KEY');
  if (!cert && !key) return undefined;
  if (!cert || !key) throw new Error('TLS needs both FACEREST_TLS_CERT and FACEREST_TLS_KEY (PEM files)');
  return { cert: readConfigFile('FACEREST_TLS_CERT', cert), key: readConfigFile('FACEREST_TLS_KEY', key) };
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const origins = (env.FACEREST_CORS_ORIGINS ?? '*').trim();
  const workers = integer(env, 'FACEREST_WORKERS', availableParallelism(), 1, 256);
  // About a second of work at the measured 40 to 75 photos/s on 2 workers: a bound on the
  // latency of what is admitted.
  const maxQueue = integer(env, 'FACEREST_MAX_QUEUE', workers * 32, 1, 1_000_000);
  return {
    port: integer(env, 'PORT', 18080, 0, 65535),
    host: env.HOST || '0.0.0.0',
    workers,
    pack: env.FACEREST_PACK || 'default',
    detectorPath: path(env, 'FACEREST_DETECTOR'),
    recognizerPath: path(env, 'FACEREST_RECOGNIZER'),
    landmarksPath: path(env, 'FACEREST_LANDMARKS'),
    genderAgePath: path(env, 'FACEREST_GENDERAGE'),
    agePath: path(env, 'FACEREST_AGE'),
    genderPath: path(env, 'FACEREST_GENDER'),
    graphRewrite: onOff(env, 'FACEREST_GRAPH_REWRITE', true),
    jpegDecoder: jpegDecoder(env),
    native: onOff(env, NATIVE_SWITCH, true),
    corsOrigins: origins === '*' ? '*' : origins.split(',').map((o) => o.trim()).filter(Boolean),
    limits: {
      maxBodyBytes: integer(env, 'FACEREST_MAX_BODY_BYTES', 64 << 20, 1024, 2 ** 31),
      maxImages: integer(env, 'FACEREST_MAX_IMAGES', 256, 1, 100_000),
      maxImageBytes: integer(env, 'FACEREST_MAX_IMAGE_BYTES', 32 << 20, 1024, 2 ** 31),
      maxPixels: integer(env, 'FACEREST_MAX_PIXELS', DEFAULT_MAX_PIXELS, 1, 2 ** 31),
      maxStreamImages: integer(env, 'FACEREST_MAX_STREAM_IMAGES', 1_000_000, 1, 2 ** 31),
    },
    maxQueue,
    // Well inside Kubernetes' default 30 s grace period, with the pool's own 5 s wait after it:
    // the admitted work is about a second (FACEREST_MAX_QUEUE) and streams end at the drain.
    drainSeconds: integer(env, 'FACEREST_DRAIN_SECONDS', 10, 0, 3600),
    apiKeys: apiKeys(env),
    tls: tls(env),
    logLevel: env.FACEREST_LOG_LEVEL || 'info',
    // Scheduling and resource budgets (issue 10).
    // Half the queue: streams keep every worker busy with far less (a stream's window is 4
    // images per worker), and unary requests always find the other half.
    maxStreamQueue: integer(env, 'FACEREST_MAX_STREAM_QUEUE', Math.max(1, Math.floor(maxQueue / 2)), 1, 1_000_000),
    maxPixelsInFlight: integer(env, 'FACEREST_MAX_PIXELS_IN_FLIGHT', DEFAULT_PIXELS_IN_FLIGHT, 1, 2 ** 40),
    maxFaces: integer(env, 'FACEREST_MAX_FACES', DEFAULT_MAX_FACES, 0, 1_000_000),
    imageBudgetMs: integer(env, 'FACEREST_IMAGE_BUDGET_MS', DEFAULT_IMAGE_BUDGET_MS, 0, 3_600_000),
    taskTimeoutSeconds: integer(env, 'FACEREST_TASK_TIMEOUT_SECONDS', 60, 1, 86_400),
    workerOldSpaceMb: integer(env, 'FACEREST_WORKER_OLD_SPACE_MB', DEFAULT_WORKER_OLD_SPACE_MB, 0, 65_536),
    // Network edge. A phone uploading 30 MB at 1 Mbit/s needs 240 s, inside the request
    // timeout; a body that stops for 30 s, or a response unread for 30 s, is a stalled peer.
    // The idle timeout outlasts the 60 s of common load balancers, so they close first.
    network: {
      maxConnections: integer(env, 'FACEREST_MAX_CONNECTIONS', 1024, 1, 1_000_000),
      maxStreamsPerConnection: integer(env, 'FACEREST_MAX_STREAMS_PER_CONNECTION', 100, 1, 100_000),
      headersTimeoutSeconds: integer(env, 'FACEREST_HEADERS_TIMEOUT_SECONDS', 20, 1, 3600),
      idleTimeoutSeconds: integer(env, 'FACEREST_IDLE_TIMEOUT_SECONDS', 65, 1, 86_400),
      bodyTimeoutSeconds: integer(env, 'FACEREST_BODY_TIMEOUT_SECONDS', 30, 1, 3600),
      requestTimeoutSeconds: integer(env, 'FACEREST_REQUEST_TIMEOUT_SECONDS', 300, 1, 86_400),
      writeTimeoutSeconds: integer(env, 'FACEREST_WRITE_TIMEOUT_SECONDS', 30, 1, 3600),
      bodyBudgetBytes: integer(env, 'FACEREST_BODY_BUDGET_BYTES', 512 << 20, 1024, 2 ** 40),
      // Measured: an HTTP/2 stream that sent only its headers holds about 75 KB; the connection
      // and stream caps alone would allow 100,000 of them.
      maxRequests: integer(env, 'FACEREST_MAX_REQUESTS', 4096, 1, 1_000_000),
    },
    gallery: {
      dataDir: resolve(env.FACEREST_DATA_DIR || 'data'),
      databaseUrl: env.FACEREST_DATABASE_URL || undefined,
      databasePoolSize: integer(env, 'FACEREST_DATABASE_POOL_SIZE', 8, 1, 1000),
      limits: {
        maxCollections: integer(env, 'FACEREST_MAX_COLLECTIONS', 1000, 1, 1_000_000),
        maxFacesPerCollection: integer(env, 'FACEREST_MAX_FACES_PER_COLLECTION', 1_000_000, 1, 1_000_000_000),
        maxPageSize: integer(env, 'FACEREST_MAX_PAGE_SIZE', 1000, 1, 1_000_000),
      },
      enrollMinQuality: fraction(env, 'FACEREST_ENROLL_MIN_QUALITY', DEFAULT_ENROLL_MIN_QUALITY),
    },
  };
}
