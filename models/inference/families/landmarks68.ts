/**
 * 68-point landmark regressor of the default pack (fr_landmark.onnx): a square face crop resized
 * to 64x64 grayscale, pixel/256 -> [1,136], x and y as fractions of the crop's width and height.
 * The five ArcFace points are derived from the 68 (iBUG 300-W numbering).
 */
import ort from 'onnxruntime-node';
import { resizeAffine, sampleToTensor } from '../sampling.js';
import type { BoxArray, Landmarker, ModelDescription, ModelFile, RgbImage } from '../types.js';
import { describe, type Signature } from '../signature.js';
import type { ModelSession } from '../onnx/session.js';

export function isLandmarks68(sig: Signature): boolean {
  if (sig.inputs.length !== 1 || sig.outputs.length !== 1) return false;
  const input = sig.inputs[0].shape;
  const output = sig.outputs[0].shape;
  return input.length === 4 && input[1] === 1 && output[output.length - 1] === 136;
}

/**
 * Index ranges (0-based) averaged into each of the five points. The outer mouth corners alone
 * (not averaged with the inner 60/64) sit where ArcFace's template expects the corners: bias
 * 0.58 px against SCRFD's keypoints, against 1.01 with the average (bench/landmark-study-results.md).
 */
const FIVE_POINTS: number[][] = [
  [36, 37, 38, 39, 40, 41], // the eye on the image's left
  [42, 43, 44, 45, 46, 47], // the eye on the image's right
  [30], // nose tip
  [48], // outer mouth corner, image left
  [54], // outer mouth corner, image right
];

export class Landmarks68 implements Landmarker {
  readonly description: ModelDescription;
  private readonly size: number;
  private readonly input: Float32Array;

  constructor(private readonly session: ModelSession, sig: Signature, file: ModelFile) {
    const h = sig.inputs[0].shape[2];
    this.size = typeof h === 'number' ? h : 64;
    this.input = new Float32Array(this.size * this.size);
    this.description = describe('landmarks', 'landmarks68', file, this.size, this.size);
  }

  async fivePoints(image: RgbImage, box: BoxArray): Promise<Float32Array> {
    const [x1, y1, x2, y2] = box;
    // A square crop around the box, side 1.1 x the mean of the box's width and height, centre
    // moved down 0.03 x side: the chin falls inside the crop (with side = mean and no shift it
    // fell at 1.04 of the crop). Measured behind the clamped-aspect boxes on pairs.csv / identities
    // (bench/landmark-study-results.md, section 4): d' 7.05 / 6.63 against 6.89 / 5.47, jitter
    // against SCRFD's keypoints 1.18 px against 1.39; refining with a second pass did not help.
    const side = Math.max(1, 1.1 * (x2 - x1 + y2 - y1) / 2);
    const left = (x1 + x2) / 2 - side / 2;
    const top = (y1 + y2) / 2 + 0.03 * side - side / 2;
    const n = this.size;
    sampleToTensor(image, resizeAffine(side / n, side / n, left, top), {
      out: this.input, offset: 0, width: n, height: n, layout: 'gray', mean: 0, std: 256, antialias: true,
    });
    const out = await this.session.run({
      [this.session.inputNames[0]]: new ort.Tensor('float32', this.input, [1, 1, n, n]),
    });
    const pts = out[this.session.outputNames[0]].data as Float32Array;
    const five = new Float32Array(10);
    FIVE_POINTS.forEach((indices, k) => {
      let sx = 0;
      let sy = 0;
      for (const i of indices) {
        sx += pts[2 * i];
        sy += pts[2 * i + 1];
      }
      five[2 * k] = left + (sx / indices.length) * side;
      five[2 * k + 1] = top + (sy / indices.length) * side;
    });
    return five;
  }
}
