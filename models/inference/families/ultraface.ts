/**
 * UltraFace (Ultra-Light-Fast-Generic-Face-Detector-1MB, RFB/slim) and exports of it such as the
 * default pack's fr_detect.onnx. Fixed input [1,3,H,W]; outputs scores [1,N,2] (softmax) and
 * boxes [1,N,4] already decoded to corners normalised to the input. No keypoints.
 */
import { nonMaxSuppression } from '../nms.js';
import { lazy } from '../lazy.js';
import { DetectorInput } from '../preprocess.js';
import type { Detection, Detector, ModelDescription, ModelFile, RgbImage } from '../types.js';
import { describe, type Signature } from '../signature.js';
import type { ModelSession } from '../onnx/session.js';

const NORMALISATION = { mean: 127, std: 128 } as const;
// With 0.7 the agreed counts on the shared photos come out exact (test/face-counts.test.ts).
const DEFAULT_THRESHOLD = 0.7;
const NMS_IOU = 0.4;

export function isUltraFace(sig: Signature): boolean {
  if (sig.inputs.length !== 1 || sig.outputs.length !== 2) return false;
  const [input] = sig.inputs;
  const lastDims = sig.outputs.map((o) => o.shape[o.shape.length - 1]).sort();
  return input.shape.length === 4 && input.shape[1] === 3 && typeof input.shape[2] === 'number'
    && typeof input.shape[3] === 'number' && lastDims[0] === 2 && lastDims[1] === 4;
}

export class UltraFaceDetector implements Detector {
  readonly description: ModelDescription;
  readonly givesKeypoints = false;
  private readonly width: number;
  private readonly height: number;
  private readonly input = lazy(() => DetectorInput.create(this.session, NORMALISATION.mean, NORMALISATION.std));
  private readonly scoresName: string;
  private readonly boxesName: string;

  constructor(private readonly session: ModelSession, sig: Signature, file: ModelFile) {
    const [, , h, w] = sig.inputs[0].shape as number[];
    this.width = w;
    this.height = h;
    const byLastDim = (n: number) => sig.outputs.find((o) => o.shape[o.shape.length - 1] === n)!.name;
    this.scoresName = byLastDim(2);
    this.boxesName = byLastDim(4);
    this.description = describe('detector', 'ultraface', file, w, h);
  }

  async detect(image: RgbImage, threshold = DEFAULT_THRESHOLD): Promise<Detection[]> {
    const { width: W, height: H } = this;
    const { contentW, contentH } = clampedAspect(image, W, H);
    const out = await (await this.input()).run(image, contentW, contentH, W, H);
    const scores = out[this.scoresName].data as Float32Array;
    const boxes = out[this.boxesName].data as Float32Array;
    // Boxes are fractions of the whole (padded) input; the image fills contentW x contentH of it.
    const sx = (image.width * W) / contentW;
    const sy = (image.height * H) / contentH;
    const candidates: Detection[] = [];
    const n = scores.length / 2;
    for (let i = 0; i < n; i++) {
      const score = scores[2 * i + 1];
      if (score < threshold) continue;
      candidates.push({
        score: Math.min(1, Math.max(0, score)),
        box: [boxes[4 * i] * sx, boxes[4 * i + 1] * sy, boxes[4 * i + 2] * sx, boxes[4 * i + 3] * sy],
      });
    }
    return nonMaxSuppression(candidates, NMS_IOU);
  }
}


/**
 * Where the image goes in the W x H input: stretched to fill it (UltraFace was trained on WIDER
 * FACE photos stretched so), except that faces are never widened (images narrower than W:H keep
 * their aspect ratio, black padding on the right) nor narrowed more than a 16:9 photo narrows them
 * at 320x240 (wider panoramas are padded at the bottom). Measured (bench/landmark-study-results.md,
 * sections 1-2): plain stretching widens a 3:4 portrait 1.78x and turns a blurred crowd in
 * deepface/img41.jpg into a face box larger than the real face (pairs.csv AUC 0.990 -> 1.000 with
 * the clamp); letterboxing every image instead loses faces in crowds (lumia.jpg 117 -> 92).
 */
export function clampedAspect(image: { width: number; height: number }, W: number, H: number): { contentW: number; contentH: number } {
  const inputAspect = W / H;
  const aspect = image.width / image.height;
  const widestAspect = inputAspect * (4 / 3); // 16:9 for a 4:3 input
  if (aspect < inputAspect) return { contentW: Math.max(1, Math.min(W, Math.round(H * aspect))), contentH: H };
  if (aspect > widestAspect) {
    return { contentW: W, contentH: Math.max(1, Math.min(H, Math.round((H * widestAspect) / aspect))) };
  }
  return { contentW: W, contentH: H };
}
