/**
 * A pool worker: owns one ONNX Runtime session per model (onnxruntime-node runs inference
 * synchronously on the calling thread, so sessions must live off the event loop).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { loadAttributeModel, loadDetector, loadLandmarker, loadRecognizer } from '../../models/inference/zoo.js';
import type { AttributeModel, ModelDescription } from '../../models/inference/types.js';
import { extractFaces, findFaces, type FaceModels, type ModelSeconds } from './faces.js';
import { IDENTITY } from '../../models/inference/sampling.js';
import type { TaskMessage, WorkerMessage, WorkerSetup } from '../pool/messages.js';
import type { TaskTiming } from '../metrics.js';
import { takeOnnxCpu } from '../../models/inference/onnx/run-cpu.js';
import { nameThisThread } from '../thread-names.js';
import { decodePlanned, ImageError } from '../pipeline/decode.js';
import { DEFAULT_DECODER, turboJpeg, type Decoder } from '../pipeline/turbojpeg.js';
import type { RgbImage } from '../../models/inference/types.js';

nameThisThread('facerest-infer');

/**
 * Who runs models next. Images start in order of arrival; an image with many faces, between
 * groups of them, lines up again behind the others of its kind. When both kinds wait, the turn
 * alternates: a new image waits for at most one group of faces, and a long image still moves
 * on while new ones keep coming.
 */
class Turns {
  private held = false;
  private lastWasLong = false;
  private readonly waiting = { start: [] as (() => void)[], long: [] as (() => void)[] };

  /** Resolves with the release function once it is this caller's turn. */
  take(kind: 'start' | 'long'): Promise<() => void> {
    return new Promise((resolve) => {
      const grant = () => {
        this.held = true;
        this.lastWasLong = kind === 'long';
        let released = false;
        resolve(() => {
          if (released) return;
          released = true;
          this.held = false;
          this.next();
        });
      };
      this.waiting[kind].push(grant);
      if (!this.held) this.next();
    });
  }

  private next(): void {
    const { start, long } = this.waiting;
    const grant = start.length > 0 && (long.length === 0 || this.lastWasLong) ? start.shift() : long.shift();
    grant?.();
  }
}

const port = parentPort!;
const post = (msg: WorkerMessage, transfer: ArrayBuffer[] = []) => port.postMessage(msg, transfer);

async function loadModels({ models: files, open }: WorkerSetup): Promise<FaceModels> {
  const detector = await loadDetector(files.detector, open);
  const recognizer = await loadRecognizer(files.recognizer, open);
  const attributes: AttributeModel[] = [];
  for (const f of files.attributes) attributes.push(await loadAttributeModel(f, open));
  if (detector.givesKeypoints) return { detector, recognizer, attributes };
  if (!files.landmarks) {
    throw new Error(`detector ${detector.description.name} gives no keypoints: a landmark model is needed`);
  }
  return { detector, recognizer, attributes, landmarker: await loadLandmarker(files.landmarks, open) };
}

/** One pass on a synthetic image so the first request does not pay for lazy initialisation. */
async function warmUp(models: FaceModels): Promise<void> {
  const width = 320, height = 240;
  await findFaces(models, { data: new Uint8Array(width * height * 3).fill(128), width, height });
  const face = { data: new Uint8Array(112 * 112 * 3).fill(128), width: 112, height: 112 };
  await models.recognizer.embed([{ image: face, map: IDENTITY }]);
  await models.landmarker?.fivePoints(face, [0, 0, 112, 112]);
  for (const a of models.attributes) await a.predict(face, [0, 0, 112, 112]);
}

try {
  const setup = workerData as WorkerSetup;
  const models = await loadModels(setup);
  const jpeg = turboJpeg(setup.jpegDecoder ?? DEFAULT_DECODER);
  await warmUp(models);
  takeOnnxCpu(); // the metric counts images, not the warm-up
  const described: ModelDescription[] = [models.detector, models.landmarker, models.recognizer, ...models.attributes]
    .filter((m) => m !== undefined).map((m) => m.description);
  // One task runs models at a time: the families reuse their input tensors between runs. A
  // task holds the turn from start to end, except an image with many faces: it gives the turn
  // up between groups of faces, so that the other image the pool sent here (normally queued
  // beside it) is not held for seconds behind it. The pool is told, and sends this worker
  // more work beside such an image.
  const turns = new Turns();
  let held = 0;
  port.on('message', (task: TaskMessage) => {
    held++;
    void (async () => {
      const own: ModelSeconds = {};
      let busy = 0;
      let release: () => void = () => {};
      // Busy from the turn on: the decode before it is counted as decoding, not as the models'.
      let since: number | undefined;
      let decoder: Decoder | undefined;
      const timing = (): TaskTiming => ({
        busySeconds: (busy + (since === undefined ? 0 : performance.now() - since)) / 1000, models: own, onnxCpu: takeOnnxCpu(), decoder,
      });
      try {
        // Decoded before the turn is taken: with sharp on libuv's threads, while the other task
        // this worker holds runs its models; a plain JPEG here, by libjpeg-turbo (under a
        // millisecond for 640 px, about 10 ms for a 3-megapixel photo shrunk to 640, at most
        // about 36 ms: decode.ts's limits).
        let image: RgbImage;
        let query = task.query;
        if ('encoded' in task.image) {
          const { encoded, plan } = task.image;
          ({ image, decoder } = await decodePlanned(encoded, plan, jpeg));
          const k = image.width / plan.width;
          if (query.alignAt) query = { ...query, alignAt: query.alignAt.map((points) => points.map((v) => v * k)) };
        } else {
          image = task.image;
        }
        release = await turns.take('start');
        since = performance.now();
        const result = await extractFaces(models, image, query, {
          heavy: () => post({ type: 'heavy', id: task.id }),
          between: async () => {
            busy += performance.now() - since!;
            release();
            release = await turns.take('long');
            since = performance.now();
          },
          spent: own,
        });
        const buffers = result.faces.flatMap((f) => [f.embedding?.buffer, f.crop?.data.buffer]);
        post({ type: 'result', id: task.id, result: { ...result, width: image.width, height: image.height }, timing: timing(), left: --held },
          buffers.filter((b) => b !== undefined) as ArrayBuffer[]);
      } catch (err) {
        const image = err instanceof ImageError ? err.code : undefined;
        post({ type: 'error', id: task.id, error: (err as Error).message, image, timing: timing(), left: --held });
      } finally {
        release();
      }
    })();
  });
  post({ type: 'ready', models: described });
} catch (err) {
  post({ type: 'failed', error: (err as Error).message });
}
