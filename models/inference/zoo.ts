/**
 * Loads a model file and picks its family from the graph's inputs and outputs, so a user can
 * point facerest at any supported ONNX file without saying what it is.
 */
import { ArcFaceRecognizer, isArcFace } from './families/arcface.js';
import { isLandmarks68, Landmarks68 } from './families/landmarks68.js';
import { isScrfd, ScrfdDetector } from './families/scrfd.js';
import { isUltraFace, UltraFaceDetector } from './families/ultraface.js';
import { isYuNet, YuNetDetector } from './families/yunet.js';
import { isRetinaFace, RetinaFaceDetector } from './families/retinaface.js';
import { formatSignature, signatureOf, type Signature } from './signature.js';
import type { ModelProto } from './onnx/model.js';
import { openModelFile, type OpenOptions, type ModelSession } from './onnx/session.js';
import type { AttributeModel, Detector, Landmarker, ModelFile, Recognizer } from './types.js';
import { GenderAge, isGenderAge } from './families/genderage.js';
import { isSsrNet, SsrNet } from './families/ssrnet.js';

interface Family<T> {
  name: string;
  matches(sig: Signature): boolean;
  /** `model` is the parsed file, for families that read more than the I/O signature. */
  create(session: ModelSession, sig: Signature, file: ModelFile, model: ModelProto): T;
}

const DETECTORS: Family<Detector>[] = [
  { name: 'scrfd', matches: isScrfd, create: (s, sig, f) => new ScrfdDetector(s, sig, f) },
  { name: 'ultraface', matches: isUltraFace, create: (s, sig, f) => new UltraFaceDetector(s, sig, f) },
  { name: 'yunet', matches: isYuNet, create: (s, sig, f) => new YuNetDetector(s, sig, f) },
  { name: 'retinaface', matches: isRetinaFace, create: (s, sig, f) => new RetinaFaceDetector(s, sig, f) },
];
const LANDMARKERS: Family<Landmarker>[] = [
  { name: 'landmarks68', matches: isLandmarks68, create: (s, sig, f) => new Landmarks68(s, sig, f) },
];
const RECOGNIZERS: Family<Recognizer>[] = [
  { name: 'arcface', matches: isArcFace, create: (s, sig, f, model) => new ArcFaceRecognizer(s, sig, f, model) },
];

const ATTRIBUTES: Family<AttributeModel>[] = [
  { name: 'genderage', matches: isGenderAge, create: (s, sig, f, model) => new GenderAge(s, sig, f, model) },
  { name: 'ssrnet', matches: isSsrNet, create: (s, sig, f) => new SsrNet(s, sig, f) },
];

async function load<T>(file: ModelFile, role: string, families: Family<T>[], options: OpenOptions): Promise<T> {
  let session: ModelSession;
  let model: ModelProto;
  try {
    // ModelSeconds' role names (server/worker/faces.ts): 'attributes' for every attribute model.
    ({ session, model } = await openModelFile(file.path, options, role === 'attribute' ? 'attributes' : role));
  } catch (err) {
    throw new Error(`cannot load ${role} model ${file.path}: ${(err as Error).message}`);
  }
  const sig = signatureOf(session);
  const family = families.find((f) => f.matches(sig));
  if (!family) {
    await session.release();
    throw new Error(`${role} model ${file.path} matches no supported family `
      + `(${families.map((f) => f.name).join(', ')}): ${formatSignature(sig)}`);
  }
  return family.create(session, sig, file, model);
}

export const loadDetector = (file: ModelFile, o: OpenOptions = {}) => load(file, 'detector', DETECTORS, o);
export const loadLandmarker = (file: ModelFile, o: OpenOptions = {}) => load(file, 'landmarks', LANDMARKERS, o);
export const loadRecognizer = (file: ModelFile, o: OpenOptions = {}) => load(file, 'recognizer', RECOGNIZERS, o);
export const loadAttributeModel = (file: ModelFile, o: OpenOptions = {}) => load(file, 'attribute', ATTRIBUTES, o);
