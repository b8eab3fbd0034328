/**
 * Loads a model file and picks its family from the graph's inputs and outputs, so a user can
 * point facerest at any supported ONNX file without saying what it is.
 */
import { readFile } from 'node:fs/promises';
import ort from 'onnxruntime-node';
import { ArcFaceRecognizer, isArcFace } from './families/arcface.js';
import { isLandmarks68, Landmarks68 } from './families/landmarks68.js';
import { isScrfd, ScrfdDetector } from './families/scrfd.js';
import { isUltraFace, UltraFaceDetector } from './families/ultraface.js';
import { isYuNet, YuNetDetector } from './families/yunet.js';
import { isRetinaFace, RetinaFaceDetector } from './families/retinaface.js';
import { formatSignature, signatureOf, type Signature } from './signature.js';
import { rewritePrelu } from './graph-rewrite.js';
import type { AttributeModel, Detector, Landmarker, ModelFile, Recognizer } from './types.js';
import { GenderAge, isGenderAge } from './families/genderage.js';
import { isSsrNet, SsrNet } from './families/ssrnet.js';

interface Family<T> {
  name: string;
  matches(sig: Signature): boolean;
  /** `model` is the file's bytes, for families that read more than the I/O signature. */
  create(session: ort.InferenceSession, sig: Signature, file: ModelFile, model: Uint8Array): T;
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

/**
 * One intra-op thread and sequential execution: the worker pool runs one session per core,
 * which keeps every core busy with less contention than one session using all of them.
 */
const SESSION_OPTIONS: ort.InferenceSession.SessionOptions = {
  intraOpNumThreads: 1,
  interOpNumThreads: 1,
  executionMode: 'sequential',
  graphOptimizationLevel: 'all',
  logSeverityLevel: 3,
};

/** Reads a model file and opens it with the service's session options and graph rewrites. */
export async function openModel(path: string): Promise<{ session: ort.InferenceSession; model: Uint8Array }> {
  const model = await readFile(path);
  const rewritten = rewritePrelu(model);
  return { session: await ort.InferenceSession.create(rewritten?.model ?? model, SESSION_OPTIONS), model };
}

async function load<T>(file: ModelFile, role: string, families: Family<T>[]): Promise<T> {
  let session: ort.InferenceSession;
  let model: Uint8Array;
  try {
    ({ session, model } = await openModel(file.path));
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

export const loadDetector = (file: ModelFile) => load(file, 'detector', DETECTORS);
export const loadLandmarker = (file: ModelFile) => load(file, 'landmarks', LANDMARKERS);
export const loadRecognizer = (file: ModelFile) => load(file, 'recognizer', RECOGNIZERS);
export const loadAttributeModel = (file: ModelFile) => load(file, 'attribute', ATTRIBUTES);
