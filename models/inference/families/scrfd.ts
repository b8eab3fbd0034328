/**
 * InsightFace SCRFD detectors (det_500m, det_2.5g, det_10g and re-exports with a batch axis and
 * named outputs). Per stride: scores [N,1] (already sigmoid), box distances [N,4], keypoint
 * offsets [N,10], all in units of the stride, from anchor centres on the feature-map grid.
 */
import { nonMaxSuppression } from '../nms.js';
import { lazy } from '../lazy.js';
import { DetectorInput } from '../preprocess.js';
import type { Detection, Detector, ModelDescription, ModelFile, RgbImage } from '../types.js';
import { describe, type Signature } from '../signature.js';
import { clipDetection } from './detector-input.js';
import type { ModelSession } from '../onnx/session.js';

const NORMALISATION = { mean: 127.5, std: 128 } as const;
const DEFAULT_THRESHOLD = 0.5;
const NMS_IOU = 0.4;
// Dynamic-size exports are run at InsightFace's default detection size.
const DEFAULT_INPUT = 640;

export function isScrfd(sig: Signature): boolean {
  if (sig.inputs.length !== 1) return false;
  const input = sig.inputs[0].shape;
  if (input.length !== 4 || input[1] !== 3) return false;
  const lastDims = sig.outputs.map((o) => o.shape[o.shape.length - 1]);
  const count = (n: number) => lastDims.filter((d) => d === n).length;
  const strides = count(1);
  return (strides === 3 || strides === 5) && count(4) === strides
    && (count(10) === strides || count(10) === 0) && sig.outputs.length === strides * (count(10) ? 3 : 2);
}

interface Level {
  stride: number;
  score: string;
  box: string;
  kps?: string;
}

export class ScrfdDetector implements Detector {
  readonly description: ModelDescription;
  readonly givesKeypoints: boolean;
  private readonly width: number;
  private readonly height: number;
  private readonly input = lazy(() => DetectorInput.create(this.session, NORMALISATION.mean, NORMALISATION.std));
  private readonly levels: Level[];

  constructor(private readonly session: ModelSession, sig: Signature, file: ModelFile) {
    const [, , h, w] = sig.inputs[0].shape;
    this.width = typeof w === 'number' ? w : DEFAULT_INPUT;
    this.height = typeof h === 'number' ? h : DEFAULT_INPUT;
    this.levels = levelsFor(sig);
    this.givesKeypoints = this.levels.every((l) => l.kps !== undefined);
    this.description = describe('detector', 'scrfd', file, this.width, this.height);
  }

  async detect(image: RgbImage, threshold = DEFAULT_THRESHOLD): Promise<Detection[]> {
    const { width: W, height: H } = this;
    // Letterbox: keep the aspect ratio, pad right and bottom with black.
    const scale = Math.min(W / image.width, H / image.height);
    const out = await (await this.input()).run(image,
      Math.min(W, Math.round(image.width * scale)), Math.min(H, Math.round(image.height * scale)), W, H);
    const candidates: Detection[] = [];
    for (const level of this.levels) {
      const scores = out[level.score].data as Float32Array;
      const boxes = out[level.box].data as Float32Array;
      const kps = level.kps ? (out[level.kps].data as Float32Array) : undefined;
      const cols = Math.ceil(W / level.stride);
      const cells = cols * Math.ceil(H / level.stride);
      const anchors = scores.length / cells;
      const s = level.stride;
      for (let i = 0; i < scores.length; i++) {
        const score = scores[i];
        if (score < threshold) continue;
        const cell = Math.floor(i / anchors);
        const cx = (cell % cols) * s;
        const cy = Math.floor(cell / cols) * s;
        const b = 4 * i;
        const detection: Detection = {
          score: Math.min(1, Math.max(0, score)),
          box: [
            (cx - boxes[b] * s) / scale, (cy - boxes[b + 1] * s) / scale,
            (cx + boxes[b + 2] * s) / scale, (cy + boxes[b + 3] * s) / scale,
          ],
        };
        if (kps) {
          const k = new Float32Array(10);
          for (let j = 0; j < 5; j++) {
            k[2 * j] = (cx + kps[10 * i + 2 * j] * s) / scale;
            k[2 * j + 1] = (cy + kps[10 * i + 2 * j + 1] * s) / scale;
          }
          detection.keypoints = k;
        }
        candidates.push(detection);
      }
    }
    return nonMaxSuppression(candidates, NMS_IOU).map((d) => clipDetection(d, image));
  }
}

/**
 * Groups the outputs by kind (last dim 1, 4, 10) and orders each kind by anchor count, largest
 * first, which is stride order 8, 16, 32(, 64, 128) whatever the output names are.
 */
function levelsFor(sig: Signature): Level[] {
  const anchorsOf = (shape: (number | string)[]) => {
    const n = shape[shape.length - 2];
    return typeof n === 'number' ? n : 0;
  };
  const ofKind = (c: number) => sig.outputs
    .filter((o) => o.shape[o.shape.length - 1] === c)
    .map((o, order) => ({ name: o.name, anchors: anchorsOf(o.shape), order }))
    // Dynamic exports give no counts; their outputs come in stride order already.
    .sort((a, b) => (b.anchors - a.anchors) || (a.order - b.order));
  const scores = ofKind(1);
  const boxes = ofKind(4);
  const kps = ofKind(10);
  const strides = scores.length === 3 ? [8, 16, 32] : [8, 16, 32, 64, 128];
  return strides.map((stride, i) => ({ stride, score: scores[i].name, box: boxes[i].name, kps: kps[i]?.name }));
}
