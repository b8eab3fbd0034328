/** The messages between the pool (main thread) and its workers. */
import type { ModelSelection } from '../../models/packs/select.js';
import type { OpenOptions } from '../../models/inference/onnx/session.js';
import type { ModelDescription, RgbImage } from '../../models/inference/types.js';
import type { TaskTiming } from '../metrics.js';
import type { FaceQuery, FaceResult } from '../worker/faces.js';
import type { SrgbConversion } from '../pipeline/to-srgb.js';

/** What a worker loads at start (its workerData). */
export interface WorkerSetup {
  models: ModelSelection;
  /** How the model files are opened (FACEREST_GRAPH_REWRITE). */
  open: OpenOptions;
}

/** An image for the models; `toSrgb`: its colours still to convert, in the worker (issue 14). */
export interface TaskImage extends RgbImage {
  toSrgb?: SrgbConversion;
}

export interface TaskMessage {
  id: number;
  image: TaskImage;
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
