/**
 * ArcFace-layout recognizers: aligned 112x112 face [B,3,112,112] -> embedding [B,D]. Covers
 * InsightFace's w600k/glint models, MobileFaceNet exports and the default pack's fr_feature.onnx.
 */
import ort from 'onnxruntime-node';
import { normalisesInput, type ModelProto } from '../onnx/model.js';
import { sampleToTensor } from '../sampling.js';
import type { FaceView, ModelDescription, ModelFile, Normalisation, Recognizer } from '../types.js';
import { describe, type Signature } from '../signature.js';
import type { ModelSession } from '../onnx/session.js';

/** InsightFace's ONNX ArcFace convention; a pack manifest may say otherwise per model. */
const DEFAULT_NORMALISATION: Normalisation = { mean: 127.5, std: 127.5, order: 'rgb' };
/** For graphs that normalise their input themselves (MXNet conversions): raw 0..255 RGB. */
const RAW_PIXELS: Normalisation = { mean: 0, std: 1, order: 'rgb' };
const SIZE = 112;

export function isArcFace(sig: Signature): boolean {
  if (sig.inputs.length !== 1 || sig.outputs.length < 1) return false;
  const input = sig.inputs[0].shape;
  const output = sig.outputs[0].shape;
  return input.length === 4 && input[1] === 3 && input[2] === SIZE && input[3] === SIZE
    && output.length === 2 && typeof output[1] === 'number';
}

export class ArcFaceRecognizer implements Recognizer {
  readonly description: ModelDescription;
  private readonly dims: number;
  private readonly batched: boolean;
  readonly normalisation: Normalisation;
  private buffer = new Float32Array(0);

  constructor(private readonly session: ModelSession, sig: Signature, file: ModelFile, model: ModelProto) {
    this.dims = sig.outputs[0].shape[1] as number;
    this.batched = sig.inputs[0].shape[0] !== 1;
    // The graph's own normalisation wins where it shows; else the pack manifest's; else InsightFace's.
    this.normalisation = normalisesInput(model) ? RAW_PIXELS : file.normalisation ?? DEFAULT_NORMALISATION;
    this.description = describe('recognizer', 'arcface', file, SIZE, SIZE, this.dims);
  }

  async embed(faces: FaceView[]): Promise<Float32Array[]> {
    if (faces.length === 0) return [];
    if (!this.batched) {
      const result: Float32Array[] = [];
      for (const face of faces) result.push(...(await this.run([face])));
      return result;
    }
    return this.run(faces);
  }

  private async run(faces: FaceView[]): Promise<Float32Array[]> {
    const plane = SIZE * SIZE * 3;
    // One input buffer per recognizer, grown to the largest group, as the other families keep
    // theirs: one task runs models at a time in a worker (server/worker/thread.ts), and a new
    // 150 kB buffer per face was external memory for V8's GC to chase (issue 14).
    if (this.buffer.length < plane * faces.length) this.buffer = new Float32Array(plane * faces.length);
    const input = this.buffer.subarray(0, plane * faces.length);
    faces.forEach((face, i) => sampleToTensor(face.image, face.map, {
      out: input, offset: i * plane, width: SIZE, height: SIZE, layout: this.normalisation.order,
      mean: this.normalisation.mean, std: this.normalisation.std,
    }));
    const out = await this.session.run({
      [this.session.inputNames[0]]: new ort.Tensor('float32', input, [faces.length, 3, SIZE, SIZE]),
    });
    const data = out[this.session.outputNames[0]].data as Float32Array;
    return faces.map((_, i) => data.slice(i * this.dims, (i + 1) * this.dims));
  }
}
