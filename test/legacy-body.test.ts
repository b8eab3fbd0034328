/**
 * POST /extract's body, read with its clean base64 decoded from the body's bytes
 * (parseLegacyBody), gives exactly what JSON.parse of the whole body gave: the same request, or
 * the same refusal. Random bodies built from real base64 and the mistakes clients make, in JSON
 * (escapes, raw control characters, non-ASCII, a key given twice or escaped, cut bodies), fed to
 * the scanner in random chunks.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { toBinary } from '@bufbuild/protobuf';
import { ExtractRequestSchema } from '../gen/facerest/v1/face_service_pb.js';
import { ServiceError } from '../server/errors.js';
import { Base64Image, parseLegacyBody, toExtractRequest } from '../server/legacy/json.js';
import { JsonScanner } from '../server/parse/json-scan.js';
import { jsonBudget } from '../server/parse/budgets.js';
import { seededRandom } from './helpers/seeded.js';
import type { Limits } from '../server/config.js';

const LIMITS = { maxImages: 256 } as Limits;

/** What a reading came to: the request's bytes and outputs, or the refusal's message. */
function outcome(read: () => ReturnType<typeof toExtractRequest>): string {
  try {
    const { request, output } = read();
    return `ok ${Buffer.from(toBinary(ExtractRequestSchema, request)).toString('hex')} ${JSON.stringify(output)}`;
  } catch (err) {
    assert.ok(err instanceof ServiceError, String(err));
    return `${err.kind}: ${err.message}`;
  }
}

/** The reading before: the whole body through JSON.parse. */
function wholeBody(body: Buffer, maxImageBytes: number): string {
  return outcome(() => {
    let parsed: unknown;
    try {
      parsed = JSON.parse(body.toString('utf8'));
    } catch (err) {
      throw new ServiceError('invalid', `request body is not valid JSON: ${(err as Error).message.slice(0, 200)}`);
    }
    return toExtractRequest(parsed, maxImageBytes);
  });
}

/** The reading now, with the scanner fed in chunks as a socket would; undefined where the scanner refused. */
function fromBytes(body: Buffer, cuts: number[], maxImageBytes: number): { outcome: string; decodedFromBytes: number } | undefined {
  const scanner = new JsonScanner(jsonBudget(LIMITS, ['images', 'data']));
  try {
    let at = 0;
    for (const cut of [...cuts, body.length]) {
      scanner.write(body.subarray(at, cut));
      at = cut;
    }
  } catch {
    return undefined;
  }
  let decodedFromBytes = 0;
  const result = outcome(() => {
    const parsed = parseLegacyBody(body, scanner.spans, maxImageBytes);
    const data = (parsed as { images?: { data?: unknown } } | null)?.images?.data;
    if (Array.isArray(data)) decodedFromBytes = data.filter((d) => d instanceof Base64Image).length;
    return toExtractRequest(parsed, maxImageBytes);
  });
  return { outcome: result, decodedFromBytes };
}

/** Inside a JSON string as written in the body: escapes, raw characters JSON refuses, non-ASCII, stray ones. */
const MISTAKES = ['\\n', '\\r\\n', '\\/', '\\u0041', '\\"', '\n', '\t', '\u0001', ' ', '=', '==', '!', 'é', '€', '-', '_', '+', '/'];

describe('POST /extract body read from its bytes', () => {
  it('random bodies: the same request or refusal as JSON.parse of the whole body, for all 3,000', () => {
    const random = seededRandom(20261129);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)];
    let compared = 0;
    let fromBytesTotal = 0;
    for (let n = 0; n < 3000; n++) {
      const entries: string[] = [];
      const count = Math.floor(random() * 4);
      for (let k = 0; k < count; k++) {
        const r = random();
        if (r < 0.08) {
          entries.push(pick(['null', '12', '{"a":1}', '["x"]', 'true']));
          continue;
        }
        // Mostly small; some long enough to cross the decoder's 64 KB pieces.
        const length = random() < 0.05 ? 48_000 + Math.floor(random() * 100_000) : Math.floor(random() * 60);
        const bytes = Buffer.from(Array.from({ length }, () => Math.floor(random() * 256)));
        let text = bytes.toString(random() < 0.7 ? 'base64' : 'base64url');
        if (random() < 0.2) text = text.replace(/=+$/, '');
        if (random() < 0.35) {
          for (let m = 1 + Math.floor(random() * 2); m > 0; m--) {
            const at = Math.floor(random() * (text.length + 1));
            const q = random();
            if (q < 0.75) text = text.slice(0, at) + pick(MISTAKES) + text.slice(at);
            else if (q < 0.9) text = text.slice(0, at) + text.slice(at + 1);
            else text = `data:image/png;base64,${text}`;
          }
        }
        entries.push(`"${text}"`);
      }
      const images = `{"${random() < 0.05 ? 'd\\u0061ta' : 'data'}":[${entries.join(',')}]}`;
      const members = [`"images":${images}`];
      if (random() < 0.3) members.push(`"max_size":${pick(['640', '0', '[640,480]', '"640"', '-1'])}`);
      if (random() < 0.15) members.push(`"${pick(['return_landmarks', 'threshold', 'return_quality', 'colour'])}":${pick(['true', '0.5', '"x"'])}`);
      if (random() < 0.05) members.push(`"images":{"data":["QUJD"]}`);
      if (random() < 0.05) members.unshift(`"images":{"data":["QUJD"]}`);
      let body = Buffer.from(`{${members.join(',')}}`);
      if (random() < 0.05) body = body.subarray(0, Math.floor(random() * body.length));
      const maxImageBytes = random() < 0.1 ? 40 : 32 << 20;
      const cuts = Array.from({ length: Math.floor(random() * 4) }, () => Math.floor(random() * body.length)).sort((a, b) => a - b);

      const now = fromBytes(body, cuts, maxImageBytes);
      if (!now) continue;
      assert.equal(now.outcome, wholeBody(body, maxImageBytes), `body ${JSON.stringify(body.toString('utf8').slice(0, 300))}`);
      compared++;
      fromBytesTotal += now.decodedFromBytes;
    }
    // With this seed all 3,000 bodies were compared (the scanner refuses only brackets that do
    // not match, which these never have) and 2,229 images decoded from the body's bytes; the
    // rest were unclean, or over the image limit, and read by JSON.parse, as they should be.
    assert.ok(compared > 2800, `${compared} bodies compared`);
    assert.ok(fromBytesTotal > 2000, `${fromBytesTotal} images decoded from the body's bytes`);
  });

  it('a clean photo-sized image is decoded from the bytes, the same as before', () => {
    const bytes = Buffer.from(Array.from({ length: 300_000 }, (_, i) => (i * 7919) % 251));
    const body = Buffer.from(JSON.stringify({ images: { data: [bytes.toString('base64'), bytes.toString('base64url')] }, max_size: 640 }));
    const now = fromBytes(body, [1000, 65_536, 200_001], 32 << 20);
    assert.equal(now?.decodedFromBytes, 2);
    assert.equal(now?.outcome, wholeBody(body, 32 << 20));
  });
});
