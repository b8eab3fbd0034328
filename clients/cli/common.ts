/** What the facerest commands share: options, the client, errors, JSON of a face. */
import { ConnectError } from '@connectrpc/connect';
import { parseArgs } from 'node:util';
import { Gender, type Face, type FaceQuality } from '../../gen/facerest/v1/face_service_pb.js';
import { createFaceClient, type FaceClient, type Protocol } from '../node/face-client.js';

export const DEFAULT_SERVER = process.env.FACEREST_URL || 'http://localhost:18080';

export class UsageError extends Error {}

/** A failure the user can act on: printed as one line, exit status 1. */
export class CliError extends Error {}

export function parse(argv: string[]) {
  try {
    return parseOptions(argv);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

function parseOptions(argv: string[]) {
  return parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      'max-size': { type: 'string' },
      server: { type: 'string', default: DEFAULT_SERVER },
      protocol: { type: 'string', default: 'grpc' },
      'api-key': { type: 'string', default: process.env.FACEREST_API_KEY },
      jsonl: { type: 'boolean', default: false },
      'top-k': { type: 'string' },
      threshold: { type: 'string' },
      'largest-face': { type: 'boolean', default: false },
      'min-quality': { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
}

export function clientFor(server: string, protocol: string, apiKey?: string): FaceClient {
  if (!['grpc', 'connect', 'grpc-web'].includes(protocol)) throw new UsageError(`unknown protocol '${protocol}'`);
  try {
    new URL(server);
  } catch {
    throw new UsageError(`--server must be a URL such as ${DEFAULT_SERVER}, got '${server}'`);
  }
  return createFaceClient({
    baseUrl: server, protocol: protocol as Protocol, headers: apiKey ? { authorization: `Bearer ${apiKey}` } : undefined,
  });
}

/** Turns a failed call into a message that says which server and why. */
export function callError(err: unknown, server: string): Error {
  if (err instanceof ConnectError) {
    const reason = err.rawMessage;
    if (/ECONNREFUSED|ENOTFOUND|EHOSTUNREACH|ECONNRESET|ETIMEDOUT/.test(reason) || err.code === 14) {
      return new CliError(`cannot reach the facerest server at ${server} (${reason}); start it with 'facerest serve' or give --server`);
    }
    return new CliError(`the server at ${server} answered: ${reason}`);
  }
  return err as Error;
}

function qualityJson(q: FaceQuality) {
  const round = (v: number, d: number) => Number(v.toFixed(d));
  return {
    overall: round(q.overall, 3), yaw: round(q.yaw, 1), pitch: round(q.pitch, 1), roll: round(q.roll, 1),
    sharpness: round(q.sharpness, 3), brightness: round(q.brightness, 3), size_px: q.sizePx,
  };
}

export function faceJson(f: Face) {
  return {
    bbox: f.box ? [f.box.x1, f.box.y1, f.box.x2, f.box.y2].map((v) => Math.round(v)) : [],
    score: Number(f.score.toFixed(4)),
    landmarks: f.landmarks.map((p) => [Number(p.x.toFixed(1)), Number(p.y.toFixed(1))]),
    ...(f.age !== undefined ? { age: Math.round(f.age) } : {}),
    ...(f.gender !== Gender.UNSPECIFIED ? { gender: f.gender === Gender.MALE ? 'male' : 'female' } : {}),
    ...(f.quality ? { quality: qualityJson(f.quality) } : {}),
    vec: f.embedding.map((v) => Number(v.toFixed(6))),
  };
}

