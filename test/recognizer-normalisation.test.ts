/**
 * Recognizer input normalisation: read from the graph where it shows (MXNet-converted ArcFace
 * models begin with Sub and Mul and take raw 0..255 pixels), else InsightFace's (x-127.5)/127.5.
 */
import assert from 'node:assert/strict';
import { writeFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ArcFaceRecognizer } from '../models/inference/families/arcface.js';
import { loadRecognizer } from '../models/inference/zoo.js';
import { IDENTITY } from '../models/inference/sampling.js';
import { buildOnnx } from '../models/inference/onnx/build.js';
import { sharedPath } from './helpers/data.js';

const SHAPE_IN = ['N', 3, 112, 112];
const MEAN_OF_PLANES = { op: 'ReduceMean', inputs: ['x'], outputs: ['out'], ints: { axes: [2, 3] }, int: { keepdims: 0 } };

describe('recognizer normalisation', () => {
  let dir: string;
  before(async () => { dir = await mkdtemp(join(tmpdir(), 'facerest-onnx-')); });
  after(async () => { await rm(dir, { recursive: true, force: true }); });

  async function model(name: string, bytes: Uint8Array) {
    const path = join(dir, name);
    await writeFile(path, bytes);
    return loadRecognizer({ path, pack: 'custom' }) as Promise<ArcFaceRecognizer>;
  }
  const grey = (v: number) => ({ image: { data: new Uint8Array(112 * 112 * 3).fill(v), width: 112, height: 112 }, map: IDENTITY });

  it('feeds raw pixels to a graph that subtracts and scales its input itself', async () => {
    const rec = await model('mxnet-style.onnx', buildOnnx({
      input: { name: 'data', shape: SHAPE_IN },
      output: { name: 'out', shape: ['N', 3] },
      constants: { mean: { dims: [1], values: [127.5] }, scale: { dims: [1], values: [1 / 127.5] } },
      nodes: [
        { op: 'Sub', inputs: ['data', 'mean'], outputs: ['centred'], name: '_minusscalar0' },
        { op: 'Mul', inputs: ['centred', 'scale'], outputs: ['x'], name: '_mulscalar0' },
        MEAN_OF_PLANES,
      ],
    }));
    assert.deepEqual(rec.normalisation, { mean: 0, std: 1, order: 'rgb' });
    const [v] = await rec.embed([grey(200)]);
    for (const c of v) assert.ok(Math.abs(c - (200 - 127.5) / 127.5) < 1e-5, `${c}`);
  });

  it("normalises outside the graph otherwise, InsightFace's way", async () => {
    const rec = await model('plain.onnx', buildOnnx({
      input: { name: 'x', shape: SHAPE_IN }, output: { name: 'out', shape: ['N', 3] }, nodes: [MEAN_OF_PLANES],
    }));
    assert.deepEqual(rec.normalisation, { mean: 127.5, std: 127.5, order: 'rgb' });
    const [v] = await rec.embed([grey(200)]);
    for (const c of v) assert.ok(Math.abs(c - (200 - 127.5) / 127.5) < 1e-5, `${c}`);
  });

  it('the pack manifest decides for graphs that do not show it', async () => {
    const bytes = buildOnnx({ input: { name: 'x', shape: SHAPE_IN }, output: { name: 'out', shape: ['N', 3] }, nodes: [MEAN_OF_PLANES] });
    const path = join(dir, 'manifest.onnx');
    await writeFile(path, bytes);
    const rec = await loadRecognizer({ path, pack: 'p', normalisation: { mean: 127, std: 128, order: 'rgb' } }) as ArcFaceRecognizer;
    const [v] = await rec.embed([grey(255)]);
    for (const c of v) assert.ok(Math.abs(c - 1) < 1e-5);
  });

  it('the real shared recognizers normalise outside the graph', async () => {
    for (const f of ['mobilefacenet_128d.onnx', 'mobilefacenet_128d_paddle.onnx']) {
      const rec = await loadRecognizer({ path: sharedPath('models', 'recognition', f), pack: 'custom' }) as ArcFaceRecognizer;
      assert.equal(rec.normalisation.mean, 127.5, f);
    }
  });
});
