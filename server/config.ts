/** Configuration from the environment, validated once at startup. */
import { availableParallelism } from 'node:os';
import type { AllowedOrigins } from './http/cors.js';

export interface Config {
  port: number;
  host: string;
  /** Inference worker threads (one ONNX Runtime session set each). */
  workers: number;
  /** The model pack (FACEREST_PACK); 'custom' = models by path only. */
  pack: string;
  /** ONNX files overriding the pack's models. */
  detectorPath?: string;
  recognizerPath?: string;
  landmarksPath?: string;
  genderAgePath?: string;
  agePath?: string;
  genderPath?: string;
  corsOrigins: AllowedOrigins;
  maxBodyBytes: number;
  /** How long SIGTERM waits for admitted requests before closing. */
  drainSeconds: number;
}

function integer(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new Error(`${name} must be an integer from ${min} to ${max}, got '${raw}'`);
  }
  return n;
}

const path = (env: NodeJS.ProcessEnv, name: string) => env[name] || undefined;

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const origins = (env.FACEREST_CORS_ORIGINS ?? '*').trim();
  return {
    port: integer(env, 'PORT', 18080, 0, 65535),
    host: env.HOST || '0.0.0.0',
    workers: integer(env, 'FACEREST_WORKERS', availableParallelism(), 1, 256),
    pack: env.FACEREST_PACK || 'default',
    detectorPath: path(env, 'FACEREST_DETECTOR'),
    recognizerPath: path(env, 'FACEREST_RECOGNIZER'),
    landmarksPath: path(env, 'FACEREST_LANDMARKS'),
    genderAgePath: path(env, 'FACEREST_GENDERAGE'),
    agePath: path(env, 'FACEREST_AGE'),
    genderPath: path(env, 'FACEREST_GENDER'),
    corsOrigins: origins === '*' ? '*' : origins.split(',').map((o) => o.trim()).filter(Boolean),
    maxBodyBytes: integer(env, 'FACEREST_MAX_BODY_BYTES', 64 << 20, 1024, 2 ** 31),
    drainSeconds: integer(env, 'FACEREST_DRAIN_SECONDS', 30, 0, 3600),
  };
}
