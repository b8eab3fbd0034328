/** JSON bodies on POST /extract (items 10, 14, 17; §2: JSON bombs). */
import { join } from 'node:path';
import { PROJECT_ROOT } from '../../../models/packs/paths.js';
import { readFace } from '../../../test/helpers/data.js';
import type { Attack, AttackContext } from '../types.js';
import { h1, type HttpAnswer } from './util.js';

const BBT2 = 'face-api.js/examples/images/bbt2.jpg';
const BBT2_FACES = 3;

const post = (ctx: AttackContext, body: string | Buffer): Promise<HttpAnswer> =>
  h1(ctx, { path: '/extract', headers: { 'content-type': 'application/json', ...ctx.auth }, body });

const errorOf = (a: HttpAnswer) => {
  try {
    return String((JSON.parse(a.body.toString()) as { error?: string }).error ?? '');
  } catch {
    return a.body.toString().slice(0, 80);
  }
};

/** `{"images":{"data":["","",...]}}` with `n` entries, built as a Buffer (60 MB for 20 million). */
function emptyStrings(n: number): Buffer {
  const head = Buffer.from('{"images":{"data":[');
  const body = Buffer.alloc(head.length + n * 3 - 1 + 3);
  head.copy(body);
  let at = head.length;
  for (let i = 0; i < n; i++) {
    if (i) body[at++] = 0x2c;
    body[at++] = 0x22;
    body[at++] = 0x22;
  }
  body.write(']}}', at);
  return body.subarray(0, at + 3);
}

export const jsonEmptyStrings: Attack = {
  name: 'json-many-empty-strings',
  issue: '14, §2',
  seconds: { quick: 10, full: 60 },
  async run(ctx) {
    const n = ctx.pick(10_000_000, 20_000_000);
    const a = await post(ctx, emptyStrings(n));
    ctx.sent();
    ctx.note(`${(n / 1e6).toFixed(0)} million empty strings (${((n * 3) / 1e6).toFixed(0)} MB): ${a.status ?? a.error} after ${(a.ms / 1000).toFixed(1)} s`);
    ctx.expect(a.status === 413, `${(n / 1e6).toFixed(0)} million entries in images.data: 413, checked while parsing (got ${a.status ?? a.error})`);
  },
};

export const jsonDeepNesting: Attack = {
  name: 'json-deep-nesting',
  issue: '17, §2',
  seconds: { quick: 4, full: 20 },
  async run(ctx) {
    const deep = '['.repeat(100_000) + ']'.repeat(100_000);
    for (let i = 0; i < ctx.pick(2, 10) && ctx.left() > 0; i++) {
      for (const [where, body] of [
        ['max_size', `{"images":{"data":[]},"max_size":${deep}}`],
        ['images.data[0]', `{"images":{"data":[${deep}]}}`],
      ] as const) {
        const a = await post(ctx, body);
        ctx.sent();
        ctx.expect(a.status === 400, `JSON nested 100,000 deep in ${where}: 400 (got ${a.status ?? a.error} ${JSON.stringify(errorOf(a).slice(0, 60))})`);
      }
    }
  },
};

export const jsonPrototypeKeys: Attack = {
  name: 'json-prototype-keys',
  issue: '17, §2',
  seconds: { quick: 4, full: 20 },
  async run(ctx) {
    for (let i = 0; i < ctx.pick(1, 10) && ctx.left() > 0; i++) {
      for (const key of ['constructor', 'toString', '__proto__', 'hasOwnProperty', 'valueOf']) {
        const a = await post(ctx, `{"images":{"data":[]},"${key}":1}`);
        ctx.sent();
        ctx.expect(a.status === 400 && errorOf(a).includes(key), `option "${key}": 400 naming it (got ${a.status ?? a.error} ${JSON.stringify(errorOf(a).slice(0, 60))})`);
      }
    }
  },
};

export const jsonEchoedValue: Attack = {
  name: 'json-huge-invalid-value',
  issue: '17',
  seconds: { quick: 5, full: 20 },
  async run(ctx) {
    const huge = 'x'.repeat(20 << 20);
    for (const body of [`{"images":{"data":[]},"max_size":"${huge}"}`, `{"images":{"data":[{"a":"${huge}"}]}}`]) {
      const a = await post(ctx, body);
      ctx.sent();
      ctx.expect(a.status === 400 && a.body.length < 4096, `a 20 MB invalid value: a short 400 (got ${a.status ?? a.error}, ${a.body.length} bytes)`);
    }
  },
};

export const legacyNewerClients: Attack = {
  name: 'legacy-max-size-list-and-api-ver',
  issue: '10',
  seconds: { quick: 4, full: 20 },
  async run(ctx) {
    const data = [readFace(BBT2).toString('base64')];
    const plain = await post(ctx, JSON.stringify({ images: { data } }));
    ctx.sent();
    const extras: { max_size?: number[]; api_ver?: string | number }[] = [{ max_size: [640, 640] }, { api_ver: '1' }, { api_ver: 1 }, { max_size: [640, 480], api_ver: '1' }];
    for (const extra of extras) {
      const a = await post(ctx, JSON.stringify({ images: { data }, ...extra }));
      ctx.sent();
      let faces = -1;
      try {
        faces = (JSON.parse(a.body.toString()) as unknown[][])[0].length;
      } catch { /* not the answer */ }
      ctx.expect(a.status === 200 && faces === BBT2_FACES, `${JSON.stringify(extra)} is accepted as InsightFace-REST did: ${BBT2_FACES} faces (got ${a.status ?? a.error} ${JSON.stringify(errorOf(a).slice(0, 80))})`);
      // max_size 640 is the default: these answers are the plain request's, byte for byte.
      if (!extra.max_size || extra.max_size[0] === extra.max_size[1]) {
        ctx.expect(a.body.equals(plain.body), `${JSON.stringify(extra)} answers exactly as the same request without it`);
      }
    }
    // InsightFace-REST's api_ver 2 is another output format, which this server does not write:
    // a clear refusal that names the key, not an answer in a shape the client does not expect.
    const v2 = await post(ctx, JSON.stringify({ images: { data }, api_ver: '2' }));
    ctx.sent();
    ctx.expect(v2.status === 400 && errorOf(v2).includes('api_ver'), `{"api_ver":"2"}: 400 naming api_ver (got ${v2.status ?? v2.error} ${JSON.stringify(errorOf(v2).slice(0, 80))})`);
  },
};

export const legacyOneAttributeModel: Attack = {
  name: 'legacy-one-attribute-model',
  issue: '10',
  seconds: { quick: 4, full: 20 },
  // Only the age model: the legacy route must not invent a gender.
  env: { FACEREST_AGE: join(process.env.FACEREST_MODELS_DIR ?? join(PROJECT_ROOT, 'models', 'weights'), 'default', 'fr_age.onnx') },
  async run(ctx) {
    const a = await post(ctx, JSON.stringify({ images: { data: [readFace(BBT2).toString('base64')] }, extract_ga: true }));
    ctx.sent();
    let faces: Record<string, unknown>[] = [];
    try {
      faces = (JSON.parse(a.body.toString()) as Record<string, unknown>[][])[0];
    } catch { /* checked below */ }
    ctx.expect(a.status === 200 && faces.length === BBT2_FACES, `extract_ga with only an age model: 200 with ${BBT2_FACES} faces (got ${a.status ?? a.error})`);
    ctx.expect(faces.every((f) => typeof f.age === 'number' && f.age > 0 && !('gender' in f)),
      `extract_ga with only an age model: ages, and no invented "gender" (got ${JSON.stringify(faces.map((f) => ({ age: f.age, gender: f.gender })))})`);
  },
};
