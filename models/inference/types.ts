/** Types shared by every model family: what goes in, what comes out. */

/** Packed 8-bit RGB pixels, row-major, 3 bytes per pixel. */
export interface RgbImage {
  data: Uint8Array;
  width: number;
  height: number;
}

/** Maps a destination pixel (u, v) to source coordinates: x = a*u + b*v + c, y = d*u + e*v + f. */
export type Affine = [a: number, b: number, c: number, d: number, e: number, f: number];

/** A face as the recognizer reads it: 112x112 pixels taken from `image` through `map`. */
export interface FaceView {
  image: RgbImage;
  map: Affine;
}

/** [x1, y1, x2, y2] in pixels of the image the model was given. */
export type BoxArray = [number, number, number, number];

export interface Detection {
  box: BoxArray;
  /** Probability in [0, 1]. */
  score: number;
  /** Five points as x0,y0,...,x4,y4 (eyes, nose, mouth corners), when the detector gives them. */
  keypoints?: Float32Array;
}

export type ModelRoleName = 'detector' | 'landmarks' | 'recognizer' | 'attributes';

/** What a loaded model is, for logs and the Info RPC. */
export interface ModelDescription {
  role: ModelRoleName;
  name: string;
  family: string;
  inputWidth: number;
  inputHeight: number;
  embeddingSize: number;
  pack: string;
  /** Recognizers: measured same-person cosine threshold; 0 = not measured. */
  samePersonThreshold: number;
}

/** Pixel normalisation: value = (pixel - mean) / std, channels in the given order. */
export interface Normalisation {
  mean: number;
  std: number;
  order: 'rgb' | 'bgr';
}

/** A model file and the facts the family cannot read from the graph. */
export interface ModelFile {
  path: string;
  pack: string;
  /** Overrides the family's default input normalisation (from a pack manifest). */
  normalisation?: Normalisation;
  /** For attribute models whose graph does not say what they predict (SSR-Net). */
  predicts?: 'age' | 'gender';
  /** For recognizers: the measured same-person cosine threshold (from the pack manifest). */
  samePersonThreshold?: number;
}

export type Gender = 'female' | 'male';

/** Age in years and/or gender; each attribute model fills what it predicts. */
export interface Attributes {
  age?: number;
  gender?: Gender;
}

export interface AttributeModel {
  readonly description: ModelDescription;
  predict(image: RgbImage, box: BoxArray): Promise<Attributes>;
}

export interface Detector {
  readonly description: ModelDescription;
  /** True when detections carry the five keypoints, so no landmark model is needed. */
  readonly givesKeypoints: boolean;
  detect(image: RgbImage, threshold?: number): Promise<Detection[]>;
}

export interface Landmarker {
  readonly description: ModelDescription;
  /** Five points (x0,y0,...,x4,y4) in image pixels for the face in `box`. */
  fivePoints(image: RgbImage, box: BoxArray): Promise<Float32Array>;
}

export interface Recognizer {
  readonly description: ModelDescription;
  /** One embedding (not normalised) per face, sampled straight into the input tensor. */
  embed(faces: FaceView[]): Promise<Float32Array[]>;
}
