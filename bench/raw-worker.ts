/**
 * The raw-model limit: the same ONNX sessions (same options and graph rewrites, one thread) fed ready tensors, no
 * decoding, no preprocessing, no transport. Per photo: one detector run, then per face one
 * landmark run (when the detector gives no keypoints) and one recognizer run, with the face
 * counts the real pipeline found on that photo.
 */
import ort from 'onnxruntime-node';
import { parentPort, workerData } from 'node:worker_threads';
import { openModelFile } from '../models/inference/onnx/session.js';
import { takeOnnxCpu, threadCpuSeconds } from '../models/inference/onnx/run-cpu.js';

interface RawJob {
  detector: string;
  landmarks?: string;
  recognizer: string;
  /** Faces per photo, from the real pipeline. */
  faces: number[];
  seconds: number;
}

const job = workerData as RawJob;

async function session(path: string, role: string) {
  const { session: s } = await openModelFile(path, {}, role);
  const meta = s.inputMetadata[0] as ort.InferenceSession.ValueMetadata & { shape: (number | string)[] };
  // Dynamic sizes as the families use them: batch 1, detectors at 640x640.
  const shape = meta.shape.map((d, i) => (typeof d === 'number' ? d : i === 0 ? 1 : 640));
  const size = shape.reduce((a, b) => a * b, 1);
  const feed = { [s.inputNames[0]]: new ort.Tensor('float32', new Float32Array(size).fill(0.1), shape) };
  return () => s.run(feed);
}

const det = await session(job.detector, 'detector');
const lm = job.landmarks ? await session(job.landmarks, 'landmarks') : undefined;
const rec = await session(job.recognizer, 'recognizer');
takeOnnxCpu();
const cpu0 = threadCpuSeconds();
let images = 0;
let faces = 0;
const end = Date.now() + job.seconds * 1000;
for (let i = 0; Date.now() < end; i = (i + 1) % job.faces.length) {
  await det();
  for (let f = 0; f < job.faces[i]; f++) {
    if (lm) await lm();
    await rec();
  }
  images++;
  faces += job.faces[i];
}
// This thread's CPU (issue 14: the floor the server's CPU per image is compared with).
parentPort!.postMessage({ images, faces, cpuSeconds: threadCpuSeconds() - cpu0, onnxCpu: takeOnnxCpu() });
