/**
 * The one place that opens ONNX Runtime sessions, so every model runs with the same options:
 * one intra-op thread and sequential execution, because the worker pool runs one session set
 * per core, which keeps every core busy with less contention than one session using them all.
 */
import { readFile, stat } from 'node:fs/promises';
import ort from 'onnxruntime-node';
import { readModel, writeModel, type ModelProto } from './model.js';
import { rewritePrelu } from './prelu-rewrite.js';
import { runCounted } from './run-cpu.js';

export const SESSION_OPTIONS: Readonly<ort.InferenceSession.SessionOptions> = {
  intraOpNumThreads: 1,
  interOpNumThreads: 1,
  executionMode: 'sequential',
  graphOptimizationLevel: 'all',
  logSeverityLevel: 3,
};

/** How model files are opened (FACEREST_GRAPH_REWRITE). */
export interface OpenOptions {
  /** Rewrite slow operators at load time (exact; see prelu-rewrite.ts). Default true. */
  graphRewrite?: boolean;
}

/**
 * An ONNX Runtime session as the model families use it: its inputs and outputs, and `run`, whose
 * CPU time is counted under the session's label (run-cpu.ts: the model role, or 'preprocess'
 * for an input graph).
 */
export class ModelSession {
  /**
   * `source`: the file (with its size and time, to tell it was not replaced since) and options
   * it was opened with, for derive; the parsed model is not kept: a recognizer's weights would
   * stay in memory twice.
   */
  constructor(private readonly session: ort.InferenceSession, readonly label: string,
    private readonly source?: { path: string; options: OpenOptions; size: number; mtimeMs: number }) {}

  get inputNames(): readonly string[] { return this.session.inputNames; }
  get outputNames(): readonly string[] { return this.session.outputNames; }
  get inputMetadata(): readonly ort.InferenceSession.ValueMetadata[] { return this.session.inputMetadata; }
  get outputMetadata(): readonly ort.InferenceSession.ValueMetadata[] { return this.session.outputMetadata; }

  run(feeds: ort.InferenceSession.FeedsType): Promise<ort.InferenceSession.ReturnType> {
    return runCounted(this.session, this.label, feeds);
  }

  release(): Promise<void> {
    return this.session.release();
  }

  /**
   * Another session, with the same options and label, on this session's graph (rewrites
   * included) as `transform` changes it; undefined where the transform gives nothing, this
   * session was not opened from a model file, the file has changed since, or rewrites are off
   * (FACEREST_GRAPH_REWRITE: the file then runs as it is). input-fusion.ts uses it.
   */
  async derive(transform: (model: ModelProto) => ModelProto | undefined): Promise<ModelSession | undefined> {
    const source = this.source;
    if (!source || source.options.graphRewrite === false) return undefined;
    const bytes = await readFile(source.path);
    const { mtimeMs } = await stat(source.path);
    if (bytes.length !== source.size || mtimeMs !== source.mtimeMs) return undefined;
    const model = readModel(bytes);
    const changed = transform(rewritePrelu(model)?.model ?? model);
    if (!changed) return undefined;
    return new ModelSession(await ort.InferenceSession.create(writeModel(changed), SESSION_OPTIONS), this.label);
  }
}

/** A session on a graph built in memory (the detectors' input graphs); `label` as ModelSession's. */
export async function openSession(model: Uint8Array, label = 'preprocess'): Promise<ModelSession> {
  return new ModelSession(await ort.InferenceSession.create(model, SESSION_OPTIONS), label);
}

export interface OpenedModel {
  session: ModelSession;
  /** The file as parsed, for families that read its nodes. */
  model: ModelProto;
  /** Whether the session runs a rewritten graph. */
  rewritten: boolean;
}

/** Reads a model file and opens it; `label` as for openSession. */
export async function openModelFile(path: string, options: OpenOptions = {}, label = 'model'): Promise<OpenedModel> {
  const { mtimeMs } = await stat(path);
  const bytes = await readFile(path);
  const model = readModel(bytes);
  const rewrite = options.graphRewrite === false ? undefined : rewritePrelu(model);
  const inference = await ort.InferenceSession.create(rewrite ? writeModel(rewrite.model) : bytes, SESSION_OPTIONS);
  const session = new ModelSession(inference, label, { path, options, size: bytes.length, mtimeMs });
  return { session, model, rewritten: rewrite !== undefined };
}
