/**
 * The peer a Node user would pick instead: @vladmandic/face-api with its own bundled models
 * (SSD MobileNet v1 detector, 68 landmarks, 128-d recognition) on the WASM backend (no native
 * TensorFlow). Each worker decodes with sharp (as facerest does) and runs the full pipeline.
 */
import * as faceapi from '@vladmandic/face-api/dist/face-api.node-wasm.js';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { join } from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';
import sharp from 'sharp';
import { PROJECT_ROOT } from '../models/packs/paths.js';

const job = workerData as { photos: Uint8Array[]; seconds: number; maxSize: number };
setWasmPaths(join(PROJECT_ROOT, 'node_modules', '@tensorflow', 'tfjs-backend-wasm', 'dist') + '/');
// The node-wasm build's typings omit the backend controls it exports.
const tf = faceapi.tf as unknown as { setBackend(name: string): Promise<boolean>; ready(): Promise<void> };
await tf.setBackend('wasm');
await tf.ready();
const models = join(PROJECT_ROOT, 'node_modules', '@vladmandic', 'face-api', 'model');
await faceapi.nets.ssdMobilenetv1.loadFromDisk(models);
await faceapi.nets.faceLandmark68Net.loadFromDisk(models);
await faceapi.nets.faceRecognitionNet.loadFromDisk(models);

async function once(photo: Uint8Array): Promise<number> {
  const { data, info } = await sharp(photo).rotate().resize(job.maxSize, job.maxSize, { fit: 'inside', withoutEnlargement: true })
    .removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
  const tensor = faceapi.tf.tensor3d(new Uint8Array(data), [info.height, info.width, 3]);
  try {
    return (await faceapi.detectAllFaces(tensor as never).withFaceLandmarks().withFaceDescriptors()).length;
  } finally {
    tensor.dispose();
  }
}

await once(job.photos[0]); // warm-up: WASM kernels compile on first use
let images = 0;
let faces = 0;
const end = Date.now() + job.seconds * 1000;
for (let i = 0; Date.now() < end; i = (i + 1) % job.photos.length) {
  faces += await once(job.photos[i]);
  images++;
}
parentPort!.postMessage({ images, faces });
