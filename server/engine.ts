/** The loaded models behind the service: the worker pool and the Extractor that uses it. */
import { selectModels, type ModelOverrides } from '../models/select.js';
import type { ModelDescription } from '../models/types.js';
import { Extractor, type ExtractorDeps } from './pipeline/extract.js';
import { WorkerPool } from './pool/worker-pool.js';

export interface Engine {
  extractor: Extractor;
  models: ModelDescription[];
  /** Images waiting for an inference worker. */
  queued(): number;
  close(): Promise<void>;
}

/** Resolves the model files first, so a wrong path fails before anything else starts. */
export function prepareEngine(overrides: ModelOverrides, workers: number, deps: ExtractorDeps): () => Promise<Engine> {
  const files = selectModels(overrides);
  return async () => {
    const pool = await WorkerPool.start(files, workers);
    pool.onTask = (t) => deps.metrics.task(t);
    return {
      extractor: new Extractor(pool, deps),
      models: pool.models,
      queued: () => pool.queued,
      close: () => pool.close(),
    };
  };
}
