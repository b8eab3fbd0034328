/** The messages between the pool (main thread) and its workers. */
import type { ModelDescription, ModelFile, RgbImage } from '../../models/types.js';
import type { TaskTiming } from '../metrics.js';
import type { FaceQuery, FaceResult } from '../pipeline/faces.js';

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
  /** The task has many faces and gives up its turn between groups of them. */
  | { type: 'heavy'; id: number }
  /** `left`: tasks the worker still holds after this one (0: it is idle). */
  | { type: 'result'; id: number; result: FaceResult; timing: TaskTiming; left: number }
  | { type: 'error'; id: number; error: string; timing: TaskTiming; left: number };
