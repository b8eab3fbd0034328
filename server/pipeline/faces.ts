/**
 * The model half of the per-image flow, run inside a pool worker: detect -> five landmarks ->
 * align -> embed -> L2-normalise. Coordinates are in pixels of the image it is given.
 */
import type { BoxArray, Detector, Landmarker, Recognizer, RgbImage } from '../../models/types.js';
import { alignFace } from './align.js';

export interface FaceModels {
  detector: Detector;
  /** Needed only when the detector gives no keypoints. */
  landmarker?: Landmarker;
  recognizer: Recognizer;
}

export interface FoundFace {
  box: BoxArray;
  score: number;
  /** x0,y0,...,x4,y4 */
  landmarks: Float32Array;
  /** Unit length. */
  embedding: Float32Array;
}

export function l2Normalise(v: Float32Array): Float32Array {
  let sum = 0;
  for (let i = 0; i < v.length; i++) sum += v[i] * v[i];
  const k = sum > 0 ? 1 / Math.sqrt(sum) : 0;
  for (let i = 0; i < v.length; i++) v[i] *= k;
  return v;
}

export async function findFaces(models: FaceModels, image: RgbImage): Promise<FoundFace[]> {
  const detections = await models.detector.detect(image);
  const landmarks: Float32Array[] = [];
  for (const d of detections) {
    if (d.keypoints) landmarks.push(d.keypoints);
    else if (models.landmarker) landmarks.push(await models.landmarker.fivePoints(image, d.box));
    else throw new Error(`detector ${models.detector.description.name} gives no keypoints and no landmark model is loaded`);
  }
  const crops = landmarks.map((points) => alignFace(image, points));
  const embeddings = await models.recognizer.embed(crops);
  return detections.map((d, i) => ({
    box: d.box,
    score: d.score,
    landmarks: landmarks[i],
    embedding: l2Normalise(embeddings[i]),
  }));
}
