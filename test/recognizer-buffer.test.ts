/**
 * The ArcFace recognizer keeps one input buffer and reuses it for every group (issue 14: a new
 * 150 kB tensor per face was garbage for V8). A group after a larger or smaller one must embed
 * exactly as a fresh recognizer does.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadRecognizer } from '../models/inference/zoo.js';
import { DEFAULT_PACK, packModels } from '../models/packs/catalog.js';
import type { FaceView } from '../models/inference/types.js';
import { alignmentMap, alignmentView } from '../server/worker/align.js';
import { decodeImage } from '../server/pipeline/decode.js';
import { readFace } from './helpers/data.js';

describe('recognizer input buffer', () => {
  it('groups of different sizes in turn embed as a fresh recognizer does', async () => {
    const file = packModels(DEFAULT_PACK, 'recognizer')[0];
    const { image } = await decodeImage(readFace('deepface/img1.jpg'), 640);
    // Three different alignments of the same photo: three different inputs.
    const views: FaceView[] = [
      [250, 300, 350, 300, 300, 360, 260, 410, 340, 410],
      [200, 250, 320, 260, 260, 330, 215, 390, 310, 395],
      [300, 320, 380, 310, 345, 370, 310, 420, 375, 415],
    ].map((p) => alignmentView(image, alignmentMap(p)));
    const reused = await loadRecognizer(file);
    await reused.embed(views);
    const [again] = await reused.embed([views[1]]);
    const [alone] = await (await loadRecognizer(file)).embed([views[1]]);
    assert.deepEqual(Array.from(again), Array.from(alone));
    // A group of two after the single face: its first face is the new one, not the old input.
    const [first] = await reused.embed([views[2], views[0]]);
    const [fresh] = await (await loadRecognizer(file)).embed([views[2], views[0]]);
    assert.deepEqual(Array.from(first), Array.from(fresh));
  });
});
