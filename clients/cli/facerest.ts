#!/usr/bin/env node
/**
 * The `facerest` command: serve, extract, compare. Talks to a running server with the Node
 * client (gRPC by default); output is JSON lines when asked or when stdout is not a terminal.
 */
import { ConnectError } from '@connectrpc/connect';
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { Gender, ImageErrorCode, ModelRole, type Face, type ImageResult } from '../../gen/facerest/v1/face_service_pb.js';
import { createFaceClient, type FaceClient, type Protocol, type StreamImage } from '../node/face-client.js';
import { cosine, largestFace } from '../similarity.js';
import { listImages } from './files.js';
import { CountProgress } from './progress.js';

const USAGE = `usage:
  facerest serve                                  start the server (same as npm start; configured by FACEREST_* variables)
  facerest extract <files or folders...> [--max-size N] [--server URL] [--protocol grpc|connect|grpc-web] [--jsonl]
                                                  one line per image: JSON with --jsonl or when piped, else a summary
  facerest compare <a> <b> [--server URL]         similarity of the largest faces, and same or different person
  --api-key KEY (or FACEREST_API_KEY) for servers that require one; --server defaults to FACEREST_URL or http://localhost:18080
`;
const DEFAULT_SERVER = process.env.FACEREST_URL || 'http://localhost:18080';

class UsageError extends Error {}

/** A failure the user can act on: printed as one line, exit status 1. */
class CliError extends Error {}

function parse(argv: string[]) {
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
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
}

function clientFor(server: string, protocol: string, apiKey?: string): FaceClient {
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
function callError(err: unknown, server: string): Error {
  if (err instanceof ConnectError) {
    const reason = err.rawMessage;
    if (/ECONNREFUSED|ENOTFOUND|EHOSTUNREACH|ECONNRESET|ETIMEDOUT/.test(reason) || err.code === 14) {
      return new CliError(`cannot reach the facerest server at ${server} (${reason}); start it with 'facerest serve' or give --server`);
    }
    return new CliError(`the server at ${server} answered: ${reason}`);
  }
  return err as Error;
}

function faceJson(f: Face) {
  return {
    bbox: f.box ? [f.box.x1, f.box.y1, f.box.x2, f.box.y2].map((v) => Math.round(v)) : [],
    score: Number(f.score.toFixed(4)),
    landmarks: f.landmarks.map((p) => [Number(p.x.toFixed(1)), Number(p.y.toFixed(1))]),
    ...(f.age !== undefined ? { age: Math.round(f.age) } : {}),
    ...(f.gender !== Gender.UNSPECIFIED ? { gender: f.gender === Gender.MALE ? 'male' : 'female' } : {}),
    vec: f.embedding.map((v) => Number(v.toFixed(6))),
  };
}

function summary(result: ImageResult): string {
  if (result.error) return `error: ${result.error.message}`;
  const n = result.faces.length;
  return `${n} face${n === 1 ? '' : 's'}${n ? ` (score ${result.faces.map((f) => f.score.toFixed(2)).join(', ')})` : ''}`;
}

function maxSizeOf(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new UsageError(`--max-size must be a whole number >= 0, got '${value}'`);
  return n;
}

async function extract(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv);
  if (positionals.length === 0) throw new UsageError('extract needs at least one file or folder');
  const maxSize = maxSizeOf(values['max-size']);
  const jsonl = values.jsonl || !process.stdout.isTTY;
  const files = await listImages(positionals);
  if (files.length === 0) throw new CliError(`no image files found in ${positionals.join(', ')}`);
  const client = clientFor(values.server, values.protocol, values['api-key']);
  const progress = new CountProgress(files.length);
  let failed = 0;
  const print = (file: string, line: object, text: string) => {
    if (progress.visible) process.stderr.write('\r\x1b[K');
    process.stdout.write(jsonl ? `${JSON.stringify(line)}\n` : `${file}: ${text}\n`);
    progress.tick();
  };
  // Files are read as the stream asks for them; one that cannot be read is reported and skipped.
  async function* images(): AsyncGenerator<StreamImage> {
    for (const [i, file] of files.entries()) {
      try {
        yield { id: String(i), data: await readFile(file) };
      } catch (err) {
        failed++;
        print(file, { file, error: `cannot read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` },
          `cannot read: ${(err as Error).message}`);
      }
    }
  }
  try {
    for await (const { id, result } of client.extractAll(images(), { maxSize })) {
      const file = files[Number(id)];
      if (result.error) failed++;
      print(file, result.error ? { file, error: result.error.message, code: ImageErrorCode[result.error.code] } : { file, faces: result.faces.map(faceJson) }, summary(result));
    }
  } catch (err) {
    throw callError(err, values.server);
  } finally {
    progress.end();
    client.close();
  }
  return failed > 0 ? 1 : 0;
}

async function compare(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv);
  if (positionals.length !== 2) throw new UsageError('compare needs exactly two image files');
  const images = await Promise.all(positionals.map(async (file) => {
    try {
      return await readFile(file);
    } catch (err) {
      throw new CliError(`cannot read ${file}: ${(err as Error).message}`);
    }
  }));
  const client = clientFor(values.server, values.protocol, values['api-key']);
  try {
    const [results, info] = await Promise.all([client.extract(images), client.info()]).catch((err) => {
      throw callError(err, values.server);
    });
    const faces = results.map((r, i) => {
      if (r.error) throw new CliError(`${positionals[i]}: ${r.error.message}`);
      const face = largestFace(r.faces);
      if (!face) throw new CliError(`no face found in ${positionals[i]}`);
      return face;
    });
    const similarity = cosine(faces[0].embedding, faces[1].embedding);
    const threshold = info.models.find((m) => m.role === ModelRole.RECOGNIZER)?.samePersonThreshold ?? 0;
    const verdict = threshold > 0
      ? `${similarity >= threshold ? 'same person' : 'different people'} (threshold ${threshold.toFixed(3)}, measured for this recognizer)`
      : 'no measured same-person threshold for this recognizer';
    if (values.jsonl || !process.stdout.isTTY) {
      console.log(JSON.stringify({ a: positionals[0], b: positionals[1], similarity: Number(similarity.toFixed(4)), threshold: threshold ? Number(threshold.toFixed(3)) : null,
        same: threshold > 0 ? similarity >= threshold : null }));
    } else {
      console.log(`similarity ${similarity.toFixed(4)}: ${verdict}`);
    }
    return 0;
  } finally {
    client.close();
  }
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'serve':
      await import('../../server/main.js');
      return -1;
    case 'extract': return extract(rest);
    case 'compare': return compare(rest);
    case undefined: case '-h': case '--help': case 'help':
      process.stdout.write(USAGE);
      return command === undefined ? 2 : 0;
    default: throw new UsageError(`unknown command '${command}'`);
  }
}

try {
  const code = await main(process.argv.slice(2));
  // serve keeps running; the others end here (process.exitCode lets stdout drain first).
  if (code >= 0) process.exitCode = code;
} catch (err) {
  if (err instanceof UsageError) {
    process.stderr.write(`facerest: ${err.message}\n${USAGE}`);
    process.exitCode = 2;
  } else if (err instanceof CliError || err instanceof ConnectError) {
    process.stderr.write(`facerest: ${err.message}\n`);
    process.exitCode = 1;
  } else {
    throw err;
  }
}
