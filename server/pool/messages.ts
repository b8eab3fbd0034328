/** The messages between the pool (main thread) and its workers. */
import type { ModelDescription, ModelFile, RgbImage } from '../../models/types.js';
import type { TaskTiming } from '../metrics.js';
import type { FaceQuery, FoundFace } from '../pipeline/faces.js';

export interface WorkerModels {
  detector: ModelFile;
  /** Loaded only if the detector gives no keypoints. */
  landmarks?: ModelFile;
  recognizer: ModelFile;
  attributes: ModelFile[];
}

export interface TaskMessage {
  id: number;
  image: RgbImage;
  query: FaceQuery;
}

export type WorkerMessage =
  | { type: 'ready'; models: ModelDescription[] }
  | { type: 'failed'; error: string }
  | { type: 'result'; id: number; faces: FoundFace[]; timing: TaskTiming }
  | { type: 'error'; id: number; error: string; timing: TaskTiming };
