/** The loaded models behind the service: the worker pool and the Extractor that uses it. */
import { selectModels, type ModelOverrides } from '../models/select.js';
import type { ModelDescription } from '../models/types.js';
import { Extractor } from './pipeline/extract.js';
import { WorkerPool } from './pool/worker-pool.js';

export interface Engine {
  extractor: Extractor;
  models: ModelDescription[];
  close(): Promise<void>;
}

/** Resolves the model files first, so a wrong path fails before anything else starts. */
export function prepareEngine(overrides: ModelOverrides, workers: number): () => Promise<Engine> {
  const files = selectModels(overrides);
  return async () => {
    const pool = await WorkerPool.start(files, workers);
    return { extractor: new Extractor(pool), models: pool.models, close: () => pool.close() };
  };
}
