/**
 * Issue 14: a fused detector's input is resized in C (native/resize/linear.c) instead of by ONNX
 * Runtime's Resize graph, where the addon is built. It must give that graph's bytes exactly, so
 * every detection stays what it was; and the server must use it. Built by `npm run build`; where
 * it is not, these tests are skipped with one line, except under CI=true, where they fail.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import ort from 'onnxruntime-node';
import { benchPhotosAt } from '../bench/photos.js';
import { clampedAspect } from '../models/inference/families/ultraface.js';
import { detectorResizeStatus, nativeResize } from '../models/inference/native-resize.js';
import { loadAddon, type AddonName } from '../native/addons.js';
import { openModelFile, openSession } from '../models/inference/onnx/session.js';
import { DetectorInput, resizePixelsGraph } from '../models/inference/preprocess.js';
import { DEFAULT_PACK, packModels } from '../models/packs/catalog.js';
import type { RgbImage } from '../models/inference/types.js';
import { decodeImage } from '../server/pipeline/decode.js';
import { underCi } from './helpers/ci.js';
import { BBT, readFace } from './helpers/data.js';
import { metricValue, scrape } from './helpers/metrics.js';
import { serverWithClient } from './helpers/server.js';

const native = nativeResize();
const suite = native || underCi() ? {} : { skip: `${detectorResizeStatus()} (under CI=true these tests fail)` };

const int64 = (v: number[]) => new ort.Tensor('int64', BigInt64Array.from(v.map(BigInt)), [v.length]);

/** The shared photos as the bench sends them (at most 640 px), decoded. */
async function photos640(): Promise<RgbImage[]> {
  return Promise.all((await benchPhotosAt(640)).map(async (p) => (await decodeImage(p.data, 640)).image));
}

/** Random pixels: every level and edge case the photos may not have. */
function noise(width: number, height: number, seed: number): RgbImage {
  const data = new Uint8Array(width * height * 3);
  let s = seed;
  for (let i = 0; i < data.length; i++) {
    s = (s * 1103515245 + 12345) >>> 0;
    data[i] = s >>> 24;
  }
  return { data, width, height };
}

describe('the detector input\'s resize in C', suite, () => {
  it('gives ONNX Runtime\'s Resize bytes exactly: every shared photo into UltraFace\'s input, and odd sizes', async () => {
    const graph = await openSession(resizePixelsGraph(false));
    const cases: [RgbImage, number, number, number, number][] = [];
    for (const im of await photos640()) {
      const { contentW, contentH } = clampedAspect(im, 320, 240);
      cases.push([im, contentW, contentH, 320, 240]);
      // Up to 3x smaller (the most resizingFor leaves to the linear kernel), unequal axes, and larger.
      cases.push([im, Math.round(im.width / 2.9), Math.round(im.height / 1.3), Math.round(im.width / 2.9) + 5, Math.round(im.height / 1.3)]);
      cases.push([im, im.width + 37, im.height * 2 + 1, im.width + 37, im.height * 2 + 4]);
    }
    // Not an unchanged height: ONNX Runtime's float path, left to the graph (preprocess.ts).
    for (const [w, h, cw, ch] of [[1, 1, 3, 2], [2, 3, 1, 1], [5, 7, 5, 3], [97, 61, 40, 60], [61, 97, 61, 40], [333, 200, 640, 480], [640, 480, 320, 240]]) {
      cases.push([noise(w, h, w * 1000 + h), cw, ch, cw + 1, ch + 2]);
    }
    for (const [im, cw, ch, ow, oh] of cases) {
      const want = (await graph.run({
        image: new ort.Tensor('uint8', im.data, [1, im.height, im.width, 3]),
        sizes: int64([1, ch, cw, 3]),
        pads: int64([0, 0, 0, 0, 0, oh - ch, ow - cw, 0]),
      })).pixels.data as Uint8Array;
      const got = native!.resizeLinear(im.data, im.width, im.height, cw, ch, ow, oh);
      assert.equal(got.length, want.length);
      const first = want.findIndex((v, i) => v !== got[i]);
      assert.equal(first, -1, `${im.width}x${im.height} -> ${cw}x${ch} in ${ow}x${oh}: byte ${first}: ${want[first]} vs ${got[first]}`);
    }
  });

  it('gives the detector the same outputs as the Resize graph does', async () => {
    const { session } = await openModelFile(packModels(DEFAULT_PACK, 'detector')[0].path, {}, 'test');
    const withC = await DetectorInput.create(session, 127, 128);
    const withGraph = await DetectorInput.create(session, 127, 128, 'rgb', undefined);
    const cases: [RgbImage, number, number][] = (await photos640()).slice(0, 8).map((im) => {
      const { contentW, contentH } = clampedAspect(im, 320, 240);
      return [im, contentW, contentH];
    });
    // Noise 640 wide and 240 high: the height unchanged, which the graph resizes.
    cases.push([noise(640, 240, 7), 320, 240]);
    for (const [im, cw, ch] of cases) {
      const [a, b] = [await withGraph.run(im, cw, ch, 320, 240), await withC.run(im, cw, ch, 320, 240)];
      for (const name of session.outputNames) assert.deepEqual(b[name].data, a[name].data, `${im.width}x${im.height}: ${name}`);
    }
  });

  it('refuses sizes it cannot honour instead of reading or writing out of bounds', () => {
    const im = noise(4, 4, 1);
    assert.throws(() => native!.resizeLinear(im.data, 4, 5, 2, 2, 2, 2), /fewer pixels than width x height x 3/);
    assert.throws(() => native!.resizeLinear(im.data, 4, 4, 3, 2, 2, 2), /bad sizes/);
    assert.throws(() => native!.resizeLinear(im.data, 4, 4, 0, 2, 2, 2), /bad sizes/);
    assert.throws(() => native!.resizeLinear(im.data, 4, 4, 65536, 65536, 65536, 65536), /bad sizes/);
  });

  describe('in the server', () => {
    const fx = serverWithClient();

    it('resizes the default detector\'s input in the workers without ONNX Runtime, and says so', async () => {
      const res = await fx.client.extract({ images: [{ data: readFace(BBT[1]) }], options: { maxSize: 640 } });
      assert.ok(res.results[0].faces.length >= 1);
      const metrics = await scrape(fx.server.baseUrl);
      assert.ok(metricValue(metrics, 'facerest_onnx_cpu_seconds_total', { role: 'detector' }) > 0);
      // No input graph ran: the 2x shrink into UltraFace's 320x240 was done in C.
      assert.equal(metricValue(metrics, 'facerest_onnx_cpu_seconds_total', { role: 'preprocess' }), 0);
      assert.equal(fx.server.logs().find((l) => l.msg === 'ready')?.detectorResize, 'native');
    });
  });
});

describe('an addon that was not built', () => {
  it('loads as a reason, not an error, so the caller keeps its portable path and can say why', () => {
    const missing = loadAddon<unknown>('facerest_never_built' as AddonName);
    assert.equal(missing.addon, undefined);
    assert.match(missing.reason!, /^native\/facerest_never_built\.node is not built \(Cannot find module/);
    // Asked again on the same thread: the same answer, from the cache.
    assert.equal(loadAddon<unknown>('facerest_never_built' as AddonName), missing);
  });
});

