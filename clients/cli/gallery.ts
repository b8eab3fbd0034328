/** The gallery commands: verify, enroll, identify, reembed (one Connect call per batch of files). */
import { Code, ConnectError } from '@connectrpc/connect';
import { readFile } from 'node:fs/promises';
import { ImageErrorCode } from '../../gen/facerest/v1/face_service_pb.js';
import type { FaceClient } from '../node/face-client.js';
import { callError, CliError, clientFor, faceJson, parse, UsageError } from './common.js';
import { listImages } from './files.js';
import { CountProgress } from './progress.js';

/** Files sent per Enroll or Identify call: a few megabytes, well inside the server's limits. */
const BATCH = 8;

async function readOrFail(file: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (err) {
    throw new CliError(`cannot read ${file}: ${(err as Error).message}`);
  }
}

function numberOption(name: string, value: string | undefined, check: (n: number) => boolean): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!check(n)) throw new UsageError(`--${name}: '${value}' is not valid`);
  return n;
}

/** Runs `work` with a client, turning call failures into messages that name the server. */
async function withClient<T>(values: ReturnType<typeof parse>['values'], work: (client: FaceClient) => Promise<T>): Promise<T> {
  const client = clientFor(values.server, values.protocol, values['api-key']);
  try {
    return await work(client);
  } catch (err) {
    throw err instanceof ConnectError ? callError(err, values.server) : err;
  } finally {
    client.close();
  }
}

/** Sends the files `BATCH` at a time, printing one line per file; the exit status is 1 if any failed. */
async function batches(files: string[], jsonl: boolean, send: (batch: string[], data: Buffer[]) => Promise<{ line: object; text: string; ok: boolean }[]>): Promise<number> {
  const progress = new CountProgress(files.length);
  let failed = 0;
  try {
    for (let at = 0; at < files.length; at += BATCH) {
      const batch = files.slice(at, at + BATCH);
      const lines = await send(batch, await Promise.all(batch.map(readOrFail)));
      lines.forEach(({ line, text, ok }, i) => {
        if (!ok) failed++;
        if (progress.visible) process.stderr.write('\r\x1b[K');
        process.stdout.write(jsonl ? `${JSON.stringify({ file: batch[i], ...line })}\n` : `${batch[i]}: ${text}\n`);
        progress.tick();
      });
    }
  } finally {
    progress.end();
  }
  return failed > 0 ? 1 : 0;
}

export async function verify(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv);
  if (positionals.length !== 2) throw new UsageError('verify needs exactly two image files');
  const threshold = numberOption('threshold', values.threshold, (n) => n >= -1 && n <= 1);
  const [a, b] = await Promise.all(positionals.map(readOrFail));
  const res = await withClient(values, (client) => client.verify({
    a: { input: { case: 'image', value: { data: a } } }, b: { input: { case: 'image', value: { data: b } } }, threshold,
  }).catch((err: unknown) => {
    // The server names the side ("a.image: no face found ..."): say which file.
    const side = err instanceof ConnectError ? /^([ab])\.image: (.*)$/.exec(err.rawMessage) : null;
    throw side ? new CliError(`${positionals[side[1] === 'a' ? 0 : 1]}: ${side[2]}`) : err;
  }));
  if (values.jsonl || !process.stdout.isTTY) {
    console.log(JSON.stringify({ a: positionals[0], b: positionals[1], similarity: Number(res.score.toFixed(4)),
      threshold: Number(res.threshold.toFixed(3)), same: res.same }));
  } else {
    console.log(`similarity ${res.score.toFixed(4)}: ${res.same ? 'same person' : 'different people'} (threshold ${res.threshold.toFixed(3)}${threshold === undefined ? ', measured for this recognizer' : ''})`);
  }
  return 0;
}

export async function enroll(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv);
  const [collection, subject, ...paths] = positionals;
  if (!collection || !subject || paths.length === 0) throw new UsageError('enroll needs a collection, a subject and at least one file or folder');
  const minQuality = numberOption('min-quality', values['min-quality'], (n) => n >= 0 && n <= 1);
  const files = await listImages(paths);
  if (files.length === 0) throw new CliError(`no image files found in ${paths.join(', ')}`);
  return withClient(values, async (client) => {
    try {
      await client.gallery.getCollection({ name: collection });
    } catch (err) {
      if (!(err instanceof ConnectError && err.code === Code.NotFound)) throw err;
      await client.gallery.createCollection({ name: collection });
      process.stderr.write(`facerest: created collection '${collection}'\n`);
    }
    return batches(files, values.jsonl || !process.stdout.isTTY, async (_, data) => {
      const res = await client.gallery.enroll({ collection, subject, images: data.map((d) => ({ data: d })), largestFace: values['largest-face'], minQuality });
      return res.results.map((r) => (r.error
        ? { ok: false, line: { error: r.error.message, code: ImageErrorCode[r.error.code] }, text: `not enrolled: ${r.error.message}` }
        : { ok: true, line: { subject, face_id: r.faceId }, text: `enrolled as ${subject} (face ${r.faceId})` }));
    });
  });
}

export async function identify(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv);
  const [collection, ...paths] = positionals;
  if (!collection || paths.length === 0) throw new UsageError('identify needs a collection and at least one file or folder');
  const topK = numberOption('top-k', values['top-k'], (n) => Number.isInteger(n) && n >= 1 && n <= 100);
  const threshold = numberOption('threshold', values.threshold, (n) => n >= -1 && n <= 1);
  const files = await listImages(paths);
  if (files.length === 0) throw new CliError(`no image files found in ${paths.join(', ')}`);
  return withClient(values, (client) => batches(files, values.jsonl || !process.stdout.isTTY, async (_, data) => {
    const res = await client.gallery.identify({ collection, images: data.map((d) => ({ data: d })), topK, threshold });
    return res.results.map((r) => {
      if (r.error) return { ok: false, line: { error: r.error.message, code: ImageErrorCode[r.error.code] }, text: `error: ${r.error.message}` };
      const faces = r.faces.map((f) => ({
        ...faceJson(f.face!), vec: undefined,
        matches: f.matches.map((m) => ({ subject: m.subject, face_id: m.faceId, score: Number(m.score.toFixed(4)) })),
      }));
      const names = r.faces.map((f) => (f.matches[0] ? `${f.matches[0].subject} (${f.matches[0].score.toFixed(2)})` : 'unknown'));
      return { ok: true, line: { faces }, text: names.length ? names.join(', ') : 'no faces' };
    });
  }));
}

export async function reembed(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv);
  if (positionals.length !== 1) throw new UsageError('reembed needs one collection');
  const res = await withClient(values, (client) => client.gallery.reembed({ collection: positionals[0] }));
  const rec = res.collection?.recognizer;
  console.log(JSON.stringify({ collection: positionals[0], reembedded: res.reembeddedFaces, removed: res.removedFaces, recognizer: rec?.name, embedding_size: rec?.embeddingSize }));
  return 0;
}
