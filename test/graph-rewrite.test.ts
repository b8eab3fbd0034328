/**
 * The load-time PRelu rewrite gives PRelu's exact values: on the default pack's recognizer
 * (real weights, real faces) and on tiny models with slopes inside and outside [0, 1]; and it
 * is the form that keeps ONNX Runtime's blocked conv layout (prelu-rewrite.ts says why).
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import ort from 'onnxruntime-node';
import sharp from 'sharp';
import { buildOnnx } from '../models/inference/onnx/build.js';
import { readModel, writeModel, type ModelProto } from '../models/inference/onnx/model.js';
import { rewritePrelu } from '../models/inference/onnx/prelu-rewrite.js';
import { openModelFile, SESSION_OPTIONS } from '../models/inference/onnx/session.js';
import { loadConfig } from '../server/config.js';
import { DEFAULT_PACK, packModels } from '../models/packs/catalog.js';
import { readShared } from './helpers/data.js';

const OPTIONS = { logSeverityLevel: 3 as const };
const ops = (m: ModelProto) => m.graph!.node.map((n) => n.opType);

async function outputs(model: Uint8Array, input: Float32Array, shape: number[]): Promise<Float32Array> {
  const s = await ort.InferenceSession.create(model, OPTIONS);
  const out = await s.run({ [s.inputNames[0]]: new ort.Tensor('float32', input, shape) });
  return out[s.outputNames[0]].data as Float32Array;
}

function maxDiff(a: Float32Array, b: Float32Array): number {
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
}

describe('PRelu rewrite', () => {
  it("keeps the default pack recognizer's embeddings bit-identical with no PRelu left", async () => {
    const bytes = await readFile(packModels(DEFAULT_PACK, 'recognizer')[0].path);
    const original = readModel(bytes);
    const result = rewritePrelu(original)!;
    assert.equal(ops(original).filter((o) => o === 'PRelu').length, 33, 'the model given is left as it was');
    assert.equal(result.rewritten, 33);
    assert.equal(ops(result.model).filter((o) => o === 'PRelu').length, 0);
    // A real aligned face (TH.png) and a real photo crop, normalised as the pack says.
    const faces = [
      readShared('faces', 'detection', 'insightface-rest', 'TH.png'),
      await sharp(readShared('faces', 'face-api.js', 'examples', 'images', 'bbt1.jpg')).resize(112, 112).png().toBuffer(),
    ];
    for (const face of faces) {
      const { data } = await sharp(face).resize(112, 112).removeAlpha().raw().toBuffer({ resolveWithObject: true });
      const input = new Float32Array(3 * 112 * 112);
      for (let i = 0; i < 112 * 112; i++) for (let c = 0; c < 3; c++) input[c * 112 * 112 + i] = (data[3 * i + c] - 127) / 128;
      const d = maxDiff(await outputs(bytes, input, [1, 3, 112, 112]), await outputs(writeModel(result.model), input, [1, 3, 112, 112]));
      assert.equal(d, 0, `embeddings differ by ${d}`);
    }
  });

  const prelu = (slopes: number[]) => buildOnnx({
    opset: 13,
    input: { name: 'x', shape: [1, 3, 4, 4] },
    output: { name: 'y', shape: [1, 3, 4, 4] },
    constants: { slope: { dims: [3, 1, 1], values: slopes } },
    nodes: [{ op: 'PRelu', inputs: ['x', 'slope'], outputs: ['y'] }],
  });
  const input = Float32Array.from({ length: 48 }, (_, i) => (i % 7) - 3.5);

  for (const [label, slopes] of [
    ['slopes in [0, 1]', [0, 0.25, 1]],
    ['negative slopes and slopes over 1', [-0.5, 0.3, 1.7]],
  ] as const) {
    it(`gives PRelu's exact values, ${label}`, async () => {
      const model = prelu([...slopes]);
      const result = rewritePrelu(readModel(model))!;
      assert.deepEqual(ops(result.model), ['Relu', 'Mul', 'Relu', 'Mul', 'Add']);
      const expected = Float32Array.from(input, (v, i) => (v >= 0 ? v : Math.fround(v * Math.fround(slopes[Math.floor(i / 16)]))));
      assert.equal(maxDiff(await outputs(model, input, [1, 3, 4, 4]), expected), 0);
      assert.equal(maxDiff(await outputs(writeModel(result.model), input, [1, 3, 4, 4]), expected), 0);
    });
  }

  it("keeps the recognizer in ONNX Runtime's blocked conv layout: one reorder, where the Where form took 67 out and 33 in", async () => {
    const bytes = await readFile(packModels(DEFAULT_PACK, 'recognizer')[0].path);
    const dir = await mkdtemp(join(tmpdir(), 'prelu-'));
    try {
      const optimised = join(dir, 'optimised.onnx');
      const session = await ort.InferenceSession.create(writeModel(rewritePrelu(readModel(bytes))!.model),
        { ...SESSION_OPTIONS, optimizedModelFilePath: optimised });
      await session.release();
      const optimisedOps = ops(readModel(await readFile(optimised)));
      const count = (op: string) => optimisedOps.filter((o) => o === op).length;
      // At most one: the embedding leaving the layout (none where the CPU has no blocked kernels).
      assert.equal(count('ReorderInput'), 0);
      assert.ok(count('ReorderOutput') <= 1, `${count('ReorderOutput')} reorders out of the blocked layout`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('leaves a PRelu whose slope is not an initializer, and models without PRelu', () => {
    const dynamicSlope = buildOnnx({
      input: { name: 'x', shape: [1, 3, 4, 4] }, output: { name: 'y', shape: [1, 3, 4, 4] },
      nodes: [{ op: 'PRelu', inputs: ['x', 'x'], outputs: ['y'] }],
    });
    assert.equal(rewritePrelu(readModel(dynamicSlope)), undefined);
    const relu = buildOnnx({
      input: { name: 'x', shape: [1, 3] }, output: { name: 'y', shape: [1, 3] },
      nodes: [{ op: 'Relu', inputs: ['x'], outputs: ['y'] }],
    });
    assert.equal(rewritePrelu(readModel(relu)), undefined);
  });

  it('gives the nodes it adds unique names, also where the file has nameless or clashing ones', async () => {
    const model = readModel(buildOnnx({
      opset: 13,
      input: { name: 'x', shape: [1, 3, 4, 4] },
      output: { name: 'z', shape: [1, 3, 4, 4] },
      constants: { slope: { dims: [3, 1, 1], values: [-0.5, 0.3, 1.7] } },
      nodes: [
        { op: 'PRelu', inputs: ['x', 'slope'], outputs: ['y'], name: '' },
        { op: 'PRelu', inputs: ['y', 'slope'], outputs: ['z'], name: '' },
        { op: 'Identity', inputs: ['x'], outputs: ['unused'], name: 'prelu_0__mul' },
      ],
    }));
    const result = rewritePrelu(model)!;
    assert.equal(result.rewritten, 2);
    const names = result.model.graph!.node.map((n) => n.name);
    assert.equal(new Set(names).size, names.length, `duplicate node names: ${names.join(', ')}`);
    assert.ok(names.every((n) => n !== ''), 'every node has a name');
    // ONNX Runtime accepts the graph and gives PRelu's values twice over.
    const once = Float32Array.from(input, (v, i) => (v >= 0 ? v : Math.fround(v * Math.fround([-0.5, 0.3, 1.7][Math.floor(i / 16)]))));
    const twice = Float32Array.from(once, (v, i) => (v >= 0 ? v : Math.fround(v * Math.fround([-0.5, 0.3, 1.7][Math.floor(i / 16)]))));
    assert.equal(maxDiff(await outputs(writeModel(result.model), input, [1, 3, 4, 4]), twice), 0);
  });

  it('FACEREST_GRAPH_REWRITE=off opens the file as it is', async () => {
    assert.equal(loadConfig({}).graphRewrite, true);
    assert.equal(loadConfig({ FACEREST_GRAPH_REWRITE: 'off' }).graphRewrite, false);
    assert.throws(() => loadConfig({ FACEREST_GRAPH_REWRITE: 'no' }), /FACEREST_GRAPH_REWRITE must be 'on' or 'off'/);
    const path = packModels(DEFAULT_PACK, 'recognizer')[0].path;
    const on = await openModelFile(path);
    const off = await openModelFile(path, { graphRewrite: false });
    assert.equal(on.rewritten, true);
    assert.equal(off.rewritten, false);
    await Promise.all([on.session.release(), off.session.release()]);
  });
});
