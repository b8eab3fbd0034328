/**
 * The model half of the per-image flow, run inside a pool worker: detect -> filter -> five
 * landmarks -> align -> embed -> L2-normalise. Coordinates are in pixels of the image it is
 * given (the main thread maps them back to the original).
 */
import { IDENTITY, resizeAffine, sampleToRgb } from '../../models/inference/sampling.js';
import type {
  AttributeModel, Attributes, BoxArray, Detection, Detector, Landmarker, Recognizer, RgbImage,
} from '../../models/inference/types.js';
import { ALIGNED_SIZE, ARCFACE_TEMPLATE, alignmentMap, alignmentView } from './align.js';
import { measureFace, type FacePixels } from './face-pixels.js';

export interface FaceModels {
  detector: Detector;
  /** Needed only when the detector gives no keypoints. */
  landmarker?: Landmarker;
  recognizer: Recognizer;
  /** Age and gender models; each fills what it predicts. */
  attributes: AttributeModel[];
}

/** What to compute for one image, in that image's pixels. */
export interface FaceQuery {
  threshold?: number;
  limitFaces: number;
  /** Minimum larger box side, in pixels of the image given. */
  minFaceSize: number;
  embed: boolean;
  returnCrops: boolean;
  /** The image is an aligned face: skip detection. */
  embedOnly: boolean;
  attributes: boolean;
  /** At most this many faces, the most probable first; 0 = no cap. */
  maxFaces: number;
  /**
   * Worker time for the image, in milliseconds, checked between groups of faces; faces beyond it
   * are dropped (at least one group is always done). 0 = no budget.
   */
  budgetMs: number;
  /**
   * Five landmarks per face, in this image's pixels: skip detection and align and embed these
   * faces (the second pass of a face found in the image shrunk to max_size, embedded from an
   * image decoded closer to the original size: server/pipeline/extract.ts).
   */
  alignAt?: Float32Array[];
}

export const FULL_QUERY: FaceQuery = {
  limitFaces: 0, minFaceSize: 0, embed: true, returnCrops: false, embedOnly: false, attributes: false,
  maxFaces: 0, budgetMs: 0,
};

/** The faces of one image, and whether the faces cap or the time budget left some out. */
export interface FaceResult {
  faces: FoundFace[];
  truncated: boolean;
}

/**
 * Faces are landmarked and embedded in groups of this size: a batched recognizer gets a bounded
 * input tensor (1,000 faces at once made one of 150 MB), and the time budget is checked between
 * groups (16 faces take about 0.15 s with the default pack).
 */
const FACE_GROUP = 16;

export interface FoundFace {
  box: BoxArray;
  score: number;
  /** x0,y0,...,x4,y4 */
  landmarks: Float32Array;
  /** Unit length; absent when not asked for. */
  embedding?: Float32Array;
  /** The aligned 112x112 face, when asked for. */
  crop?: RgbImage;
  /** Age and gender, when asked for. */
  attributes?: Attributes;
  /** What the aligned face's pixels say about its quality. */
  pixels: FacePixels;
}

/** Seconds spent in each model role ('detector', 'landmarks', 'recognizer', 'attributes'). */
export type ModelSeconds = Record<string, number>;

/** Runs one model call, adding its time to `spent[role]` when the caller keeps count. */
async function timed<T>(spent: ModelSeconds | undefined, role: string, run: () => Promise<T>): Promise<T> {
  if (!spent) return run();
  const start = performance.now();
  try {
    return await run();
  } finally {
    spent[role] = (spent[role] ?? 0) + (performance.now() - start) / 1000;
  }
}

async function attributesOf(models: FaceModels, image: RgbImage, box: BoxArray, spent?: ModelSeconds): Promise<Attributes> {
  const merged: Attributes = {};
  for (const m of models.attributes) Object.assign(merged, await timed(spent, 'attributes', () => m.predict(image, box)));
  return merged;
}

export function l2Normalise(v: Float32Array): Float32Array {
  let sum = 0;
  for (let i = 0; i < v.length; i++) sum += v[i] * v[i];
  const k = sum > 0 ? 1 / Math.sqrt(sum) : 0;
  for (let i = 0; i < v.length; i++) v[i] *= k;
  return v;
}

const area = (d: Detection) => (d.box[2] - d.box[0]) * (d.box[3] - d.box[1]);

function select(detections: Detection[], q: FaceQuery): Detection[] {
  let kept = detections;
  if (q.minFaceSize > 0) {
    kept = kept.filter((d) => Math.max(d.box[2] - d.box[0], d.box[3] - d.box[1]) >= q.minFaceSize);
  }
  if (q.limitFaces > 0 && kept.length > q.limitFaces) {
    const largest = new Set([...kept].sort((a, b) => area(b) - area(a)).slice(0, q.limitFaces));
    kept = kept.filter((d) => largest.has(d));
  }
  return kept;
}

async function alignedFace(models: FaceModels, image: RgbImage, q: FaceQuery, spent?: ModelSeconds): Promise<FoundFace[]> {
  const { width, height } = image;
  const view = {
    image,
    map: width === ALIGNED_SIZE && height === ALIGNED_SIZE ? IDENTITY : resizeAffine(width / ALIGNED_SIZE, height / ALIGNED_SIZE),
  };
  const landmarks = Float32Array.from(ARCFACE_TEMPLATE, (v, i) => v * (i % 2 ? height : width) / ALIGNED_SIZE);
  const [embedding] = q.embed ? await timed(spent, 'recognizer', () => models.recognizer.embed([view])) : [];
  const box: BoxArray = [0, 0, width, height];
  return [{
    box, score: 1, landmarks,
    embedding: embedding && l2Normalise(embedding),
    crop: q.returnCrops ? sampleToRgb(image, view.map, ALIGNED_SIZE, ALIGNED_SIZE) : undefined,
    attributes: q.attributes ? await attributesOf(models, image, box, spent) : undefined,
    pixels: measureFace(view),
  }];
}

/** Every face the query asks for, without the cap and budget's report. */
export async function findFaces(models: FaceModels, image: RgbImage, q: FaceQuery = FULL_QUERY): Promise<FoundFace[]> {
  return (await extractFaces(models, image, q)).faces;
}

/** How a long image shares its worker (server/worker/thread.ts). */
export interface FaceHooks {
  /** Called once when the image has more than one group of faces. */
  heavy?(): void;
  /** Awaited between groups of faces: other images may run meanwhile (not counted in the budget). */
  between?(): Promise<void>;
  /** Where the time of each model call is added up (the worker reports it per task). */
  spent?: ModelSeconds;
}

export async function extractFaces(models: FaceModels, image: RgbImage, q: FaceQuery = FULL_QUERY,
  hooks: FaceHooks = {}): Promise<FaceResult> {
  const start = performance.now();
  if (q.embedOnly) return { faces: await alignedFace(models, image, q, hooks.spent), truncated: false };
  if (q.alignAt) {
    const alignAt = q.alignAt;
    if (alignAt.length > FACE_GROUP) hooks.heavy?.();
    return inGroups(alignAt.length, q, hooks, start, (at, end) => facesAt(models, image, alignAt.slice(at, end), q, hooks.spent));
  }
  let detections = select(await timed(hooks.spent, 'detector', () => models.detector.detect(image, q.threshold)), q);
  let capped = false;
  if (q.maxFaces > 0 && detections.length > q.maxFaces) {
    // Detections come highest probability first.
    detections = detections.slice(0, q.maxFaces);
    capped = true;
  }
  if (detections.length > FACE_GROUP) hooks.heavy?.();
  const found = await inGroups(detections.length, q, hooks, start,
    (at, end) => facesOf(models, image, detections.slice(at, end), q, hooks.spent));
  return { faces: found.faces, truncated: found.truncated || capped };
}

/**
 * Runs `group` over [0, count) in groups of FACE_GROUP, checking the time budget and giving up
 * the turn between groups; truncated when the budget left some out.
 */
async function inGroups(count: number, q: FaceQuery, hooks: FaceHooks, start: number,
  group: (at: number, end: number) => Promise<FoundFace[]>): Promise<FaceResult> {
  const faces: FoundFace[] = [];
  let waited = 0;
  for (let at = 0; at < count; at += FACE_GROUP) {
    if (at > 0) {
      if (q.budgetMs > 0 && performance.now() - start - waited > q.budgetMs) return { faces, truncated: true };
      if (hooks.between) {
        const paused = performance.now();
        await hooks.between();
        waited += performance.now() - paused;
      }
    }
    faces.push(...await group(at, Math.min(count, at + FACE_GROUP)));
  }
  return { faces, truncated: false };
}

async function facesOf(models: FaceModels, image: RgbImage, detections: Detection[], q: FaceQuery,
  spent?: ModelSeconds): Promise<FoundFace[]> {
  const landmarks: Float32Array[] = [];
  for (const d of detections) {
    if (d.keypoints) landmarks.push(d.keypoints);
    else if (models.landmarker) {
      const { landmarker } = models;
      landmarks.push(await timed(spent, 'landmarks', () => landmarker.fivePoints(image, d.box)));
    }
    else throw new Error(`detector ${models.detector.description.name} gives no keypoints and no landmark model is loaded`);
  }
  // The recognizer samples each aligned face straight from the image; an RGB crop is made only
  // when the caller asked for face data.
  const views = landmarks.map((points) => alignmentView(image, alignmentMap(points)));
  const embeddings = q.embed ? await timed(spent, 'recognizer', () => models.recognizer.embed(views)) : [];
  const attributes: Attributes[] = [];
  if (q.attributes) for (const d of detections) attributes.push(await attributesOf(models, image, d.box, spent));
  return detections.map((d, i) => ({
    box: d.box,
    score: d.score,
    landmarks: landmarks[i],
    embedding: embeddings[i] && l2Normalise(embeddings[i]),
    crop: q.returnCrops ? sampleToRgb(views[i].image, views[i].map, ALIGNED_SIZE, ALIGNED_SIZE) : undefined,
    attributes: attributes[i],
    pixels: measureFace(views[i]),
  }));
}

/** Faces whose landmarks are known: aligned and embedded (and cropped when asked), in order. */
async function facesAt(models: FaceModels, image: RgbImage, points: Float32Array[], q: FaceQuery,
  spent?: ModelSeconds): Promise<FoundFace[]> {
  const views = points.map((p) => alignmentView(image, alignmentMap(p)));
  const embeddings = q.embed ? await timed(spent, 'recognizer', () => models.recognizer.embed(views)) : [];
  return points.map((landmarks, i) => ({
    box: [0, 0, 0, 0], score: 0, landmarks,
    embedding: embeddings[i] && l2Normalise(embeddings[i]),
    crop: q.returnCrops ? sampleToRgb(views[i].image, views[i].map, ALIGNED_SIZE, ALIGNED_SIZE) : undefined,
    pixels: measureFace(views[i]),
  }));
}
