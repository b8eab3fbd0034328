/**
 * RetinaFace MobileNet-0.25 in the Pytorch_Retinaface lineage: dynamic [B,3,H,W] BGR input minus
 * (104, 117, 123); outputs loc [B,N,4], conf [B,N,2] (softmax), landmarks [B,N,10], decoded
 * against SSD-style priors (min sizes 16/32, 64/128, 256/512 at steps 8/16/32, variances 0.1/0.2).
 */
import { nonMaxSuppression } from '../nms.js';
import type { Detection, Detector, ModelDescription, ModelFile, RgbImage } from '../types.js';
import { describe, type Signature } from '../signature.js';
import { BgrDetectorInput, clipDetection, dynamicInputSize } from './detector-input.js';
import type { ModelSession } from '../onnx/session.js';

const DEFAULT_THRESHOLD = 0.7;
const NMS_IOU = 0.4;
const MIN_SIZES = [[16, 32], [64, 128], [256, 512]];
const STEPS = [8, 16, 32];
const VARIANCES = [0.1, 0.2];
// Per channel in R, G, B order (the model was trained on BGR minus 104, 117, 123); no std.
const MEAN_RGB = [123, 117, 104];

export function isRetinaFace(sig: Signature): boolean {
  if (sig.inputs.length !== 1 || sig.outputs.length !== 3) return false;
  const last = sig.outputs.map((o) => o.shape[o.shape.length - 1]).sort((a, b) => Number(a) - Number(b));
  return sig.inputs[0].shape[1] === 3 && last[0] === 2 && last[1] === 4 && last[2] === 10;
}

/** Prior centres and sizes in input pixels, in the order the model emits its anchors. */
function priors(W: number, H: number): Float32Array {
  const out: number[] = [];
  STEPS.forEach((step, k) => {
    const rows = Math.ceil(H / step);
    const cols = Math.ceil(W / step);
    for (let i = 0; i < rows; i++) {
      for (let j = 0; j < cols; j++) {
        for (const size of MIN_SIZES[k]) out.push((j + 0.5) * step, (i + 0.5) * step, size, size);
      }
    }
  });
  return Float32Array.from(out);
}

export class RetinaFaceDetector implements Detector {
  readonly description: ModelDescription;
  readonly givesKeypoints = true;
  private readonly names: { loc: string; conf: string; landmarks: string };
  private cachedPriors: { key: string; data: Float32Array } = { key: "", data: new Float32Array() };

  private readonly input: BgrDetectorInput;

  constructor(session: ModelSession, sig: Signature, file: ModelFile) {
    this.input = new BgrDetectorInput(session, MEAN_RGB);
    const byLast = (n: number) => sig.outputs.find((o) => o.shape[o.shape.length - 1] === n)!.name;
    this.names = { loc: byLast(4), conf: byLast(2), landmarks: byLast(10) };
    this.description = describe('detector', 'retinaface', file, 0, 0);
  }

  async detect(image: RgbImage, threshold = DEFAULT_THRESHOLD): Promise<Detection[]> {
    const { width: W, height: H, scale } = dynamicInputSize(image, 32);
    const out = await this.input.run(image, scale, W, H);
    const loc = out[this.names.loc].data as Float32Array;
    const conf = out[this.names.conf].data as Float32Array;
    const lm = out[this.names.landmarks].data as Float32Array;
    const key = `${W}x${H}`;
    if (this.cachedPriors.key !== key) this.cachedPriors = { key, data: priors(W, H) };
    const p = this.cachedPriors.data;
    const candidates: Detection[] = [];
    for (let i = 0; i < conf.length / 2; i++) {
      const score = conf[2 * i + 1];
      if (score < threshold) continue;
      const [pcx, pcy, pw, ph] = [p[4 * i], p[4 * i + 1], p[4 * i + 2], p[4 * i + 3]];
      const cx = pcx + loc[4 * i] * VARIANCES[0] * pw;
      const cy = pcy + loc[4 * i + 1] * VARIANCES[0] * ph;
      const w = pw * Math.exp(loc[4 * i + 2] * VARIANCES[1]);
      const h = ph * Math.exp(loc[4 * i + 3] * VARIANCES[1]);
      const keypoints = new Float32Array(10);
      for (let k = 0; k < 5; k++) {
        keypoints[2 * k] = (pcx + lm[10 * i + 2 * k] * VARIANCES[0] * pw) / scale;
        keypoints[2 * k + 1] = (pcy + lm[10 * i + 2 * k + 1] * VARIANCES[0] * ph) / scale;
      }
      const box: [number, number, number, number] = [(cx - w / 2) / scale, (cy - h / 2) / scale, (cx + w / 2) / scale, (cy + h / 2) / scale];
      candidates.push({ score: Math.min(1, Math.max(0, score)), box, keypoints });
    }
    return nonMaxSuppression(candidates, NMS_IOU).map((d) => clipDetection(d, image));
  }
}
