/**
 * SSR-Net (soft stagewise regression, Yang et al. 2018) as the default pack ships it: one graph
 * for age and one for gender, with the same layout [1,3,64,64] -> three stages of 3-bin
 * probabilities, bin offsets (`index_offset_stageN`) and range scalings (`stageN_delta_k`). The
 * graphs look alike, so which attribute a file predicts comes from the pack manifest
 * (ModelFile.predicts). Preprocessing follows the package's own code: the detector box enlarged
 * 1.4x about its centre (shrunk to fit, then shifted inside the image), stretched to 64x64, RGB,
 * ImageNet mean and std, plain bilinear like the package's cv.resize (an antialiased shrink got
 * one face fewer right). Measured: gender right for 32 of 39 labelled faces of
 * face-api.js/examples/images (test/age-gender-ssrnet.test.ts).
 */
import ort from 'onnxruntime-node';
import { resizeAffine, sampleToTensor } from '../sampling.js';
import type { AttributeModel, Attributes, BoxArray, ModelDescription, ModelFile, RgbImage } from '../types.js';
import { describe, type Signature } from '../signature.js';
import type { ModelSession } from '../onnx/session.js';

const SIZE = 64;
const ENLARGE = 1.4;
const STAGES = 3;
const BINS = 3;
const MEAN = [0.485 * 255, 0.456 * 255, 0.406 * 255];
const STD = [0.229 * 255, 0.224 * 255, 0.225 * 255];
/** The regression's range: ages 0..101 years; gender 0 (female) .. 1 (male). */
const RANGE = { age: 101, gender: 1 } as const;

const outputName = (kind: 'prob_stage_' | 'index_offset_stage' | 'delta_k', stage: number) =>
  kind === 'delta_k' ? `stage${stage}_delta_k` : `${kind}${stage}`;

export function isSsrNet(sig: Signature): boolean {
  if (sig.inputs.length !== 1) return false;
  const input = sig.inputs[0].shape;
  if (input.length !== 4 || input[1] !== 3 || input[2] !== SIZE || input[3] !== SIZE) return false;
  const names = new Set(sig.outputs.map((o) => o.name));
  for (let s = 1; s <= STAGES; s++) {
    for (const kind of ['prob_stage_', 'index_offset_stage', 'delta_k'] as const) {
      if (!names.has(outputName(kind, s))) return false;
    }
  }
  return true;
}

/** The crop the package feeds SSR-Net, as [left, top, width, height] in image pixels. */
export function ssrCrop(box: BoxArray, width: number, height: number): [number, number, number, number] {
  const [x1, y1, x2, y2] = box;
  const bw = x2 - x1;
  const bh = y2 - y1;
  const scale = Math.min((height - 1) / bh, (width - 1) / bw, ENLARGE);
  const w = bw * scale;
  const h = bh * scale;
  const left = Math.min(Math.max((x1 + x2) / 2 - w / 2, 0), width - 1 - w);
  const top = Math.min(Math.max((y1 + y2) / 2 - h / 2, 0), height - 1 - h);
  return [left, top, w, h];
}

export class SsrNet implements AttributeModel {
  readonly description: ModelDescription;
  private readonly predicts: 'age' | 'gender';
  private readonly input = new Float32Array(3 * SIZE * SIZE);

  constructor(private readonly session: ModelSession, _sig: Signature, file: ModelFile) {
    if (!file.predicts) {
      throw new Error(`${file.path} is an SSR-Net model; its graph does not say whether it predicts age or gender: `
        + 'load it as FACEREST_AGE or FACEREST_GENDER');
    }
    this.predicts = file.predicts;
    this.description = describe('attributes', `ssrnet-${file.predicts}`, file, SIZE, SIZE);
  }

  async predict(image: RgbImage, box: BoxArray): Promise<Attributes> {
    const [left, top, w, h] = ssrCrop(box, image.width, image.height);
    sampleToTensor(image, resizeAffine(w / SIZE, h / SIZE, left, top), {
      out: this.input, offset: 0, width: SIZE, height: SIZE, layout: 'rgb', mean: MEAN, std: STD,
    });
    const out = await this.session.run({ [this.session.inputNames[0]]: new ort.Tensor('float32', this.input, [1, 3, SIZE, SIZE]) });
    const value = RANGE[this.predicts] * regress((kind, stage) => out[outputName(kind, stage)].data as Float32Array);
    return this.predicts === 'age' ? { age: value } : { gender: value >= 0.5 ? 'male' : 'female' };
  }
}

/**
 * SSR-Net's soft stagewise regression in [0, 1]: each stage refines the previous one's bin with
 * its own 3 bins, shifted by the predicted offsets and rescaled by the predicted delta_k.
 */
function regress(output: (kind: 'prob_stage_' | 'index_offset_stage' | 'delta_k', stage: number) => Float32Array): number {
  let total = 0;
  let divisor = 1;
  for (let s = 1; s <= STAGES; s++) {
    const prob = output('prob_stage_', s);
    const offset = output('index_offset_stage', s);
    divisor *= BINS * (1 + output('delta_k', s)[0]);
    let stage = 0;
    for (let i = 0; i < BINS; i++) stage += (i + offset[i]) * prob[i];
    total += stage / divisor;
  }
  return total;
}
