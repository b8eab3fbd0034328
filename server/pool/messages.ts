/** The messages between the pool (main thread) and its workers. */
import type { ModelSelection } from '../../models/packs/select.js';
import type { OpenOptions } from '../../models/inference/onnx/session.js';
import type { ModelDescription, RgbImage } from '../../models/inference/types.js';
import type { TaskTiming } from '../metrics.js';
import type { FaceQuery, FaceResult } from '../worker/faces.js';
import type { DecodePlan } from '../pipeline/decode.js';
import type { Decoder } from '../pipeline/turbojpeg.js';
import type { ImageErrorCode } from '../../gen/facerest/v1/face_service_pb.js';

/** What a worker loads at start (its workerData). */
export interface WorkerSetup {
  models: ModelSelection;
  /** How the model files are opened (FACEREST_GRAPH_REWRITE). */
  open: OpenOptions;
  /** Who decodes plain JPEGs (FACEREST_JPEG_DECODER); DEFAULT_DECODER when not said. */
  jpegDecoder?: Decoder;
}

/**
 * An image as its file, with the plan its header gave (decode.ts's planDecode): the worker
 * decodes it. The server sends these: decoded pixels made on the main thread cost a copy into
 * the worker and, as external memory there, most of the main thread's garbage collections
 * (issue 14).
 */
export interface EncodedImage {
  encoded: Uint8Array;
  plan: DecodePlan;
}

/** An image for the models: decoded already (in-process callers, tests), or to decode. */
export type TaskImage = RgbImage | EncodedImage;

/** The faces, and the size of the image the worker found them in (an encoded one's decoded size). */
export interface TaskResult extends FaceResult {
  width: number;
  height: number;
}

export interface TaskMessage {
  id: number;
  image: TaskImage;
  /**
   * For an encoded image, `alignAt` is in the pixels of the original (the plan's width x
   * height): the caller does not know the decoded size to the pixel (sharp rounds its own).
   */
  query: FaceQuery;
}

export type WorkerMessage =
  | { type: 'ready'; models: ModelDescription[] }
  | { type: 'failed'; error: string }
  /** The task has many faces and gives up its turn between groups of them. */
  | { type: 'heavy'; id: number }
  /** `left`: tasks the worker still holds after this one (0: it is idle). */
  | { type: 'result'; id: number; result: TaskResult; timing: TaskTiming; left: number }
  /** `image`: the image could not be decoded (its code and message are the answer's). */
  | { type: 'error'; id: number; error: string; image?: ImageErrorCode; timing: TaskTiming; left: number };
