#!/usr/bin/env node
/**
 * The `facerest` command: serve, extract, verify, and the gallery's enroll, identify and
 * reembed. Talks to a running server with the Node client (gRPC by default); output is JSON
 * lines when asked or when stdout is not a terminal.
 */
import { ConnectError } from '@connectrpc/connect';
import { readFile } from 'node:fs/promises';
import { ImageErrorCode, type ImageResult } from '../../gen/facerest/v1/face_service_pb.js';
import type { StreamImage } from '../node/face-client.js';
import { callError, CliError, clientFor, faceJson, parse, UsageError } from './common.js';
import { enroll, identify, reembed, verify } from './gallery.js';
import { listImages } from './files.js';
import { CountProgress } from './progress.js';

const USAGE = `usage:
  facerest serve                                  start the server (same as npm start; configured by FACEREST_* variables)
  facerest extract <files or folders...> [--max-size N] [--server URL] [--protocol grpc|connect|grpc-web] [--jsonl]
                                                  one line per image: JSON with --jsonl or when piped, else a summary
  facerest verify <a> <b> [--threshold T]         same person or not (the server's Verify; 'compare' is the same)
  facerest enroll <collection> <subject> <files or folders...> [--largest-face] [--min-quality Q]
                                                  enrol one face per image (the collection is created if new);
                                                  faces under quality Q (default: the server's) are refused
  facerest identify <collection> <files or folders...> [--top-k N] [--threshold T]
                                                  who is in each image: one line per image
  facerest reembed <collection>                   re-embed a collection's faces with the server's current recognizer
  --api-key KEY (or FACEREST_API_KEY) for servers that require one; --server defaults to FACEREST_URL or http://localhost:18080
`;
function summary(result: ImageResult): string {
  if (result.error) return `error: ${result.error.message}`;
  const n = result.faces.length;
  const each = result.faces.map((f) => f.score.toFixed(2) + (f.quality ? ` q ${f.quality.overall.toFixed(2)}` : ''));
  return `${n} face${n === 1 ? '' : 's'}${n ? ` (score ${each.join(', ')})` : ''}`;
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

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'serve':
      await import('../../server/main.js');
      return -1;
    case 'extract': return extract(rest);
    case 'verify': case 'compare': return verify(rest);
    case 'enroll': return enroll(rest);
    case 'identify': return identify(rest);
    case 'reembed': return reembed(rest);
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
