/**
 * YuNet (libfacedetection / OpenCV zoo face_detection_yunet): dynamic [B,3,H,W] BGR input in
 * 0..255 without normalisation; per stride 8/16/32 one anchor per cell with outputs cls, obj
 * (score = sqrt(cls * obj)), bbox (dx, dy, log w, log h in stride units) and kps (5 points).
 */
import { nonMaxSuppression } from '../nms.js';
import type { Detection, Detector, ModelDescription, ModelFile, RgbImage } from '../types.js';
import { describe, type Signature } from '../signature.js';
import { BgrDetectorInput, clipDetection, dynamicInputSize } from './detector-input.js';
import type { ModelSession } from '../onnx/session.js';

const DEFAULT_THRESHOLD = 0.6;
const NMS_IOU = 0.3;
const STRIDES = [8, 16, 32];

export function isYuNet(sig: Signature): boolean {
  const names = sig.outputs.map((o) => o.name);
  return sig.inputs.length === 1 && sig.inputs[0].shape[1] === 3
    && STRIDES.every((s) => ['cls', 'obj', 'bbox', 'kps'].every((k) => names.includes(`${k}_${s}`)));
}

export class YuNetDetector implements Detector {
  readonly description: ModelDescription;
  readonly givesKeypoints = true;
  private readonly fixed?: { width: number; height: number };

  private readonly input: BgrDetectorInput;

  constructor(session: ModelSession, sig: Signature, file: ModelFile) {
    this.input = new BgrDetectorInput(session, 0);
    const [, , h, w] = sig.inputs[0].shape;
    if (typeof w === 'number' && typeof h === 'number') this.fixed = { width: w, height: h };
    this.description = describe('detector', 'yunet', file, this.fixed?.width ?? 0, this.fixed?.height ?? 0);
  }

  async detect(image: RgbImage, threshold = DEFAULT_THRESHOLD): Promise<Detection[]> {
    // Dynamic models run at the image's own size (padded to a multiple of 32, capped in pixels):
    // max_size is the caller's speed/recall dial, as in InsightFace-REST.
    const { width: W, height: H } = this.fixed ?? dynamicInputSize(image, 32);
    const scale = Math.min(W / image.width, H / image.height, 1);
    const out = await this.input.run(image, scale, W, H);
    const candidates: Detection[] = [];
    for (const s of STRIDES) {
      const cls = out[`cls_${s}`].data as Float32Array;
      const obj = out[`obj_${s}`].data as Float32Array;
      const bbox = out[`bbox_${s}`].data as Float32Array;
      const kps = out[`kps_${s}`].data as Float32Array;
      const cols = Math.floor(W / s);
      for (let i = 0; i < cls.length; i++) {
        const score = Math.sqrt(Math.min(1, Math.max(0, cls[i])) * Math.min(1, Math.max(0, obj[i])));
        if (score < threshold) continue;
        const col = i % cols;
        const row = Math.floor(i / cols);
        const cx = (col + bbox[4 * i]) * s;
        const cy = (row + bbox[4 * i + 1]) * s;
        const w = Math.exp(bbox[4 * i + 2]) * s;
        const h = Math.exp(bbox[4 * i + 3]) * s;
        const keypoints = new Float32Array(10);
        for (let k = 0; k < 5; k++) {
          keypoints[2 * k] = ((col + kps[10 * i + 2 * k]) * s) / scale;
          keypoints[2 * k + 1] = ((row + kps[10 * i + 2 * k + 1]) * s) / scale;
        }
        candidates.push({
          score,
          box: [(cx - w / 2) / scale, (cy - h / 2) / scale, (cx + w / 2) / scale, (cy + h / 2) / scale],
          keypoints,
        });
      }
    }
    return nonMaxSuppression(candidates, NMS_IOU).map((d) => clipDetection(d, image));
  }
}
