/**
 * Every detector family on the real models in ../shared/models, run through the model zoo
 * (family picked from the graph's I/O) on real photos: the agreed face counts, the crowd photo,
 * and keypoints where they belong.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadDetector } from '../models/inference/zoo.js';
import type { Detection } from '../models/inference/types.js';
import { decodeImage } from '../server/pipeline/decode.js';
import { BBT, readFace, sharedPath } from './helpers/data.js';

const COUNTS: [string, number][] = [
  [BBT[0], 4], [BBT[1], 3], [BBT[2], 5], [BBT[3], 6], [BBT[4], 5],
  ['face-api.js/test/images/faces.jpg', 6],
  ['face-api.js/test/images/white.png', 0],
];

const FAMILIES: [string, string, string][] = [
  ['scrfd', 'scrfd/det_500m.onnx', 'SCRFD-500M'],
  ['scrfd', 'scrfd/det_2.5g.onnx', 'SCRFD-2.5G'],
  ['scrfd', 'scrfd/scrfd_500m_bnkps_batched.onnx', 'SCRFD-500M, batched named outputs'],
  ['yunet', 'yunet/yunet_s_dynamic.onnx', 'YuNet-s'],
  ['yunet', 'yunet/yunet_n_dynamic.onnx', 'YuNet-n'],
  ['retinaface', 'retinaface/retinaface_mnet025_dynamic.onnx', 'RetinaFace MobileNet-0.25'],
  ['ultraface', 'ultraface/version-RFB-320.onnx', 'UltraFace RFB-320'],
  ['ultraface', 'ultraface/version-RFB-640.onnx', 'UltraFace RFB-640'],
];

function assertKeypointsPlausible(d: Detection, label: string) {
  const k = d.keypoints!;
  const [x1, y1, x2, y2] = d.box;
  const pad = 0.1 * (x2 - x1);
  for (let i = 0; i < 5; i++) {
    assert.ok(k[2 * i] > x1 - pad && k[2 * i] < x2 + pad && k[2 * i + 1] > y1 - pad && k[2 * i + 1] < y2 + pad,
      `${label}: keypoint ${i} outside its box`);
  }
  assert.ok(Math.max(k[1], k[3]) < Math.min(k[7], k[9]), `${label}: eyes must be above the mouth corners`);
  assert.ok(k[0] < k[2], `${label}: left eye left of right eye`);
}

for (const [family, file, label] of FAMILIES) {
  describe(`detector family ${family}: ${label}`, () => {
    it('is recognised from its inputs and outputs', async () => {
      const detector = await loadDetector({ path: sharedPath('models', file), pack: 'custom' });
      assert.equal(detector.description.family, family);
      assert.equal(detector.givesKeypoints, family !== 'ultraface');
    });

    it('finds the agreed number of faces in each photo (max_size 640)', async () => {
      const detector = await loadDetector({ path: sharedPath('models', file), pack: 'custom' });
      for (const [photo, expected] of COUNTS) {
        const { image } = await decodeImage(readFace(photo), 640);
        const found = await detector.detect(image);
        assert.equal(found.length, expected, `${photo}`);
        for (const d of found) {
          assert.ok(d.score >= 0 && d.score <= 1);
          if (detector.givesKeypoints) assertKeypointsPlausible(d, `${label} ${photo}`);
        }
      }
    });
  });
}

describe('the crowd photo (lumia.jpg, 1600x898) at max_size 0', () => {
  // Measured: SCRFD-500M 118 faces, YuNet-s 493 (it runs at full size and finds the tiny faces
  // at the back of the crowd; checked by drawing the boxes). The issue asks for at least 100.
  for (const file of ['scrfd/det_500m.onnx', 'yunet/yunet_s_dynamic.onnx']) {
    it(`${file} finds at least 100 faces`, async () => {
      const detector = await loadDetector({ path: sharedPath('models', file), pack: 'custom' });
      const { image } = await decodeImage(readFace('detection/insightface-rest/lumia.jpg'), 0);
      const found = await detector.detect(image);
      console.log(`# ${file}: ${found.length} faces on lumia.jpg`);
      assert.ok(found.length >= 100, `${found.length} faces`);
    });
  }
});
