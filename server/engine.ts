/** The loaded models behind the service: the worker pool and the Extractor that uses it. */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { Logger } from 'pino';
import type { RecognizerBinding } from './gallery/store.js';
import { selectModels, type ModelOverrides } from '../models/packs/select.js';
import type { OpenOptions } from '../models/inference/onnx/session.js';
import type { ModelDescription } from '../models/inference/types.js';
import { Extractor, type ExtractorDeps } from './pipeline/extract.js';
import { WorkerPool } from './pool/worker-pool.js';
import type { WorkerSetup } from './pool/messages.js';
import type { Decoder } from './pipeline/turbojpeg.js';

/** The loaded recognizer, as the gallery binds collections to it. */
export interface LoadedRecognizer extends RecognizerBinding {
  /** Its measured same-person cosine threshold (0 when not measured). */
  threshold: number;
}

export interface Engine {
  extractor: Extractor;
  models: ModelDescription[];
  recognizer: LoadedRecognizer;
  /** Images waiting for an inference worker. */
  queued(): number;
  close(): Promise<void>;
}

/** How the worker pool runs and reports (issue 10). */
export interface PoolSettings {
  log: Logger;
  taskTimeoutSeconds: number;
  /** FACEREST_WORKER_OLD_SPACE_MB (worker-pool.ts). */
  workerOldSpaceMb?: number;
  /** Told when the last worker is gone, and when one runs again. */
  onAlive(alive: boolean): void;
  /** The worker module; tests run the real worker under a wrapper that can make it misbehave. */
  workerScript?: URL;
}

/** Resolves the model files first, so a wrong path fails before anything else starts. */
export function prepareEngine(choice: ModelOverrides & OpenOptions & { jpegDecoder?: Decoder }, workers: number,
  deps: ExtractorDeps, settings: PoolSettings): () => Promise<Engine> {
  const setup: WorkerSetup = { models: selectModels(choice), open: { graphRewrite: choice.graphRewrite }, jpegDecoder: choice.jpegDecoder };
  return async () => {
    const pool = await WorkerPool.start(setup, workers, {
      log: settings.log, taskTimeoutMs: settings.taskTimeoutSeconds * 1000, script: settings.workerScript,
      initialOldSpaceMb: settings.workerOldSpaceMb,
    });
    pool.onTask = (t) => deps.metrics.task(t);
    pool.onAlive = settings.onAlive;
    const described = pool.models.find((m) => m.role === 'recognizer')!;
    const recognizer: LoadedRecognizer = {
      name: described.name,
      sha256: createHash('sha256').update(await readFile(setup.models.recognizer.path)).digest('hex'),
      dim: described.embeddingSize,
      threshold: described.samePersonThreshold,
    };
    return {
      extractor: new Extractor(pool, deps),
      models: pool.models,
      recognizer,
      queued: () => pool.queued,
      close: () => pool.close(),
    };
  };
}
