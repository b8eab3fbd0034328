/**
 * The detectors' input (models/inference/preprocess.ts) gives the same floats, to the bit, as
 * the graph it replaced (Resize, Cast, Transpose, Pad, Sub, Mul), on real photos and on every
 * 8-bit level: with and without a resize, for both families' normalisations (where
 * DequantizeLinear stands in for Cast, Sub and Mul) and for one where it cannot. And a detector
 * with the preparation fused into its graph (onnx/input-fusion.ts) gives the same outputs, to
 * the bit, as the plain detector fed the reference graph's floats.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { copyFileSync, mkdtempSync, rmSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ort from 'onnxruntime-node';
import { clampedAspect } from '../models/inference/families/ultraface.js';
import { dynamicInputSize } from '../models/inference/families/detector-input.js';
import { resizeAffine, sampleToTensor } from '../models/inference/sampling.js';
import { normalisationNodes } from '../models/inference/onnx/normalise.js';
import { openModelFile, openSession, type ModelSession } from '../models/inference/onnx/session.js';
import { DetectorInput, ImageToTensor, needsAntialias, referenceImageToTensorGraph } from '../models/inference/preprocess.js';
import { DEFAULT_PACK, packModels } from '../models/packs/catalog.js';
import type { RgbImage } from '../models/inference/types.js';
import { decodeImage } from '../server/pipeline/decode.js';
import { BBT, readFace, sharedPath } from './helpers/data.js';

const int64 = (v: number[]) => new ort.Tensor('int64', BigInt64Array.from(v.map(BigInt)), [v.length]);

/** The reference graphs, with and without the antialias kernel, picked as the faster graphs pick. */
async function referenceGraphs(mean: number, std: number) {
  const [plain, antialiased] = await Promise.all([false, true].map((aa) => openSession(referenceImageToTensorGraph(mean, std, aa), 'test')));
  return (im: RgbImage, cw: number, ch: number) => (needsAntialias(im.width, im.height, cw, ch) ? antialiased : plain);
}

async function reference(session: ModelSession, im: RgbImage, cw: number, ch: number, w: number, h: number) {
  const out = await session.run({
    image: new ort.Tensor('uint8', im.data, [1, im.height, im.width, 3]),
    sizes: int64([1, ch, cw, 3]),
    pads: int64([0, 0, 0, 0, 0, 0, h - ch, w - cw]),
  });
  return out.tensor.data as Float32Array;
}

/** 16 x 16 pixels: every level once in each channel, in a different order per channel. */
function allLevels(): RgbImage {
  const data = new Uint8Array(256 * 3);
  for (let i = 0; i < 256; i++) data.set([i, 255 - i, (i * 7) & 255], 3 * i);
  return { data, width: 16, height: 16 };
}

const NORMALISATIONS: [string, number, number, string][] = [
  ['UltraFace', 127, 128, 'DequantizeLinear'],
  ['SCRFD', 127.5, 128, 'DequantizeLinear'],
  ['ImageNet-like, not exact as a dequantisation', 123.675, 58.395, 'Cast'],
];

describe('detector input graph', () => {
  it('uses DequantizeLinear only where it gives the reference floats', () => {
    for (const [label, mean, std, first] of NORMALISATIONS) {
      assert.equal(normalisationNodes('x', 'y', mean, std).nodes[0].op, first, label);
      // Before opset 10 there is no DequantizeLinear (the default pack's detector is opset 9).
      assert.equal(normalisationNodes('x', 'y', mean, std, { opset: 9 }).nodes[0].op, 'Cast', label);
    }
  });

  it('resizes with the antialias kernel only beyond a 3x shrink, and the two kernels differ', async () => {
    // UltraFace's inputs from 640-px photos (2x to 2.7x) and upscales take plain linear.
    for (const [w, h, cw, ch, want] of [
      [640, 480, 320, 240, false], [640, 427, 320, 240, false], [480, 640, 180, 240, false],
      [300, 200, 640, 427, false], [640, 445, 200, 139, true], [1000, 696, 320, 240, true],
    ] as const) assert.equal(needsAntialias(w, h, cw, ch), want, `${w}x${h} -> ${cw}x${ch}`);
    // Otherwise the bit-for-bit checks below could not tell the kernels apart.
    const photo = (await decodeImage(readFace(BBT[0]), 640)).image;
    const ch = Math.round((200 * photo.height) / photo.width);
    const [plain, antialiased] = await Promise.all([false, true].map((aa) => openSession(referenceImageToTensorGraph(127, 128, aa), 'test')));
    const a = await reference(plain, photo, 200, ch, 200, ch);
    const b = await reference(antialiased, photo, 200, ch, 200, ch);
    assert.ok(a.some((v, i) => v !== b[i]));
  });

  for (const [label, mean, std] of NORMALISATIONS) {
    it(`equals the reference graph bit for bit: ${label}`, async () => {
      const before = await referenceGraphs(mean, std);
      const after = await ImageToTensor.create(mean, std);
      const photo = (await decodeImage(readFace(BBT[0]), 640)).image;
      const levels = allLevels();
      // [image, content w x h, input w x h]: no resize (SCRFD's letterbox at scale 1), a 2x
      // downscale (UltraFace's 320x240), one of more than 3x (antialiased), an upscale, and
      // padding on both sides.
      const cases: [RgbImage, number, number, number, number][] = [
        [photo, photo.width, photo.height, 640, 640],
        [photo, 320, Math.min(240, Math.round((320 * photo.height) / photo.width)), 320, 240],
        [photo, 200, Math.round((200 * photo.height) / photo.width), 256, 192],
        [levels, 16, 16, 32, 24],
        [levels, 40, 40, 64, 48],
      ];
      for (const [im, cw, ch, w, h] of cases) {
        const a = await reference(before(im, cw, ch), im, cw, ch, w, h);
        const b = (await after.run(im, cw, ch, w, h)).data as Float32Array;
        assert.equal(b.length, a.length);
        const first = a.findIndex((v, i) => !Object.is(v, b[i]));
        assert.equal(first, -1, `${im.width}x${im.height} -> ${cw}x${ch} in ${w}x${h}: index ${first}: ${a[first]} vs ${b[first]}`);
      }
    });
  }
});

const DETECTORS: [string, string, number, number, (im: RgbImage) => [number, number, number, number]][] = [
  ['default pack (UltraFace 320x240, opset 9)', packModels(DEFAULT_PACK, 'detector')[0].path, 127, 128, (im) => {
    const { contentW, contentH } = clampedAspect(im, 320, 240);
    return [contentW, contentH, 320, 240];
  }],
  ['SCRFD-500M (opset 11)', sharedPath('models', 'scrfd', 'det_500m.onnx'), 127.5, 128, (im) => {
    const s = Math.min(640 / im.width, 640 / im.height);
    return [Math.min(640, Math.round(im.width * s)), Math.min(640, Math.round(im.height * s)), 640, 640];
  }],
];

describe('detector with its input fused into its graph', () => {
  for (const [label, path, mean, std, place] of DETECTORS) {
    it(`gives the plain detector's outputs bit for bit: ${label}`, async () => {
      const { session: plain } = await openModelFile(path, {}, 'test');
      const reference = await referenceGraphs(mean, std);
      const input = await DetectorInput.create(plain, mean, std);
      assert.ok(input.isFused);
      const photo = (await decodeImage(readFace(BBT[1]), 640)).image;
      // A portrait at 640 (no resize for SCRFD, 2x for UltraFace), the same photo at 300 px (an
      // upscale for SCRFD), and a couple at 1000 px (more than 3x for UltraFace: antialiased).
      const small = (await decodeImage(readFace(BBT[1]), 300)).image;
      const large = (await decodeImage(readFace('deepface/couple.jpg'), 1000)).image;
      for (const im of [photo, small, large]) {
        const [cw, ch, w, h] = place(im);
        const tensor = await reference(im, cw, ch).run({
          image: new ort.Tensor('uint8', im.data, [1, im.height, im.width, 3]),
          sizes: int64([1, ch, cw, 3]),
          pads: int64([0, 0, 0, 0, 0, 0, h - ch, w - cw]),
        });
        const want = await plain.run({ [plain.inputNames[0]]: tensor.tensor });
        const got = await input.run(im, cw, ch, w, h);
        for (const name of plain.outputNames) {
          const a = want[name].data as Float32Array;
          const b = got[name].data as Float32Array;
          assert.equal(b.length, a.length, name);
          const first = a.findIndex((v, i) => !Object.is(v, b[i]));
          assert.equal(first, -1, `${im.width}x${im.height}, ${name}[${first}]: ${a[first]} vs ${b[first]}`);
        }
      }
    });
  }

  for (const [label, file, mean] of [
    ['YuNet-s (BGR, 0..255)', 'yunet/yunet_s_dynamic.onnx', 0],
    ['RetinaFace MobileNet-0.25 (BGR minus a mean per channel)', 'retinaface/retinaface_mnet025_dynamic.onnx', [123, 117, 104]],
  ] as const) {
    it(`gives the outputs of sampleToTensor's copy, bit for bit, at scale 1: ${label}`, async () => {
      const { session: plain } = await openModelFile(sharedPath('models', ...file.split('/')), {}, 'test');
      const input = await DetectorInput.create(plain, mean, 1, 'bgr');
      assert.ok(input.isFused);
      for (const im of [(await decodeImage(readFace(BBT[1]), 640)).image, allLevels()]) {
        const { width: w, height: h, scale } = dynamicInputSize(im, 32);
        assert.equal(scale, 1);
        const floats = new Float32Array(3 * w * h);
        sampleToTensor(im, resizeAffine(1, 1), { out: floats, offset: 0, width: w, height: h, layout: 'bgr', mean, std: 1, antialias: true });
        const want = await plain.run({ [plain.inputNames[0]]: new ort.Tensor('float32', floats, [1, 3, h, w]) });
        const got = await input.run(im, im.width, im.height, w, h);
        for (const name of plain.outputNames) {
          const a = want[name].data as Float32Array;
          const b = got[name].data as Float32Array;
          const first = a.findIndex((v, i) => !Object.is(v, b[i]));
          assert.equal(first, -1, `${im.width}x${im.height}, ${name}[${first}]: ${a[first]} vs ${b[first]}`);
        }
      }
    });
  }

  it('is not fused when the file has changed since it was loaded (the fused graph would be another model)', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'facerest-fuse-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const path = join(dir, 'det.onnx');
    copyFileSync(DETECTORS[1][1], path);
    const { session } = await openModelFile(path, {}, 'test');
    utimesSync(path, new Date(), new Date(Date.now() + 60_000));
    assert.equal((await DetectorInput.create(session, 127.5, 128)).isFused, false);
  });

  it('is not fused with graph rewrites off (FACEREST_GRAPH_REWRITE=off runs the file as it is)', async () => {
    const { session } = await openModelFile(DETECTORS[1][1], { graphRewrite: false }, 'test');
    assert.equal((await DetectorInput.create(session, 127.5, 128)).isFused, false);
  });
});
