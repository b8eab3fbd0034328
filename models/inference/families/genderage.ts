/**
 * InsightFace's genderage.onnx layout: [B,3,96,96] -> [B,3] = two gender logits (female, male)
 * and age/100. The crop is the face box, square by its larger side enlarged 1.5x, centred, not
 * rotated; input normalisation as InsightFace's Attribute class (in-graph, else (x-127.5)/128).
 */
import ort from 'onnxruntime-node';
import { normalisesInput, type ModelProto } from '../onnx/model.js';
import { resizeAffine, sampleToTensor } from '../sampling.js';
import type { AttributeModel, Attributes, BoxArray, ModelDescription, ModelFile, RgbImage } from '../types.js';
import { describe, type Signature } from '../signature.js';
import type { ModelSession } from '../onnx/session.js';

const SIZE = 96;
const ENLARGE = 1.5;

export function isGenderAge(sig: Signature): boolean {
  if (sig.inputs.length !== 1 || sig.outputs.length !== 1) return false;
  const input = sig.inputs[0].shape;
  const output = sig.outputs[0].shape;
  return input.length === 4 && input[1] === 3 && input[2] === SIZE && input[3] === SIZE
    && output.length === 2 && output[1] === 3;
}

export class GenderAge implements AttributeModel {
  readonly description: ModelDescription;
  private readonly mean: number;
  private readonly std: number;
  private readonly input = new Float32Array(3 * SIZE * SIZE);

  constructor(private readonly session: ModelSession, _sig: Signature, file: ModelFile, model: ModelProto) {
    const inGraph = normalisesInput(model);
    this.mean = inGraph ? 0 : 127.5;
    this.std = inGraph ? 1 : 128;
    this.description = describe('attributes', 'genderage', file, SIZE, SIZE);
  }

  async predict(image: RgbImage, box: BoxArray): Promise<Attributes> {
    const [x1, y1, x2, y2] = box;
    const side = Math.max(x2 - x1, y2 - y1) * ENLARGE;
    const left = (x1 + x2) / 2 - side / 2;
    const top = (y1 + y2) / 2 - side / 2;
    sampleToTensor(image, resizeAffine(side / SIZE, side / SIZE, left, top), {
      out: this.input, offset: 0, width: SIZE, height: SIZE, layout: 'rgb', mean: this.mean, std: this.std, antialias: true,
    });
    const out = await this.session.run({ [this.session.inputNames[0]]: new ort.Tensor('float32', this.input, [1, 3, SIZE, SIZE]) });
    const [female, male, age] = out[this.session.outputNames[0]].data as Float32Array;
    return { gender: male > female ? 'male' : 'female', age: age * 100 };
  }
}
