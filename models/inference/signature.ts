/**
 * A model's I/O signature as onnxruntime reports it. Families are recognised from it, the way
 * InsightFace's model_zoo picks a class from a graph's inputs and outputs.
 */
import type ort from 'onnxruntime-node';
import type { ModelDescription, ModelFile, ModelRoleName } from './types.js';
import { basename } from 'node:path';
import type { ModelSession } from './onnx/session.js';

export type Dim = number | string;

export interface TensorSignature {
  name: string;
  shape: Dim[];
}

export interface Signature {
  inputs: TensorSignature[];
  outputs: TensorSignature[];
}

export function signatureOf(session: ModelSession): Signature {
  const read = (meta: readonly ort.InferenceSession.ValueMetadata[]): TensorSignature[] =>
    meta.map((m) => ({ name: m.name, shape: m.isTensor ? [...m.shape] : [] }));
  return { inputs: read(session.inputMetadata), outputs: read(session.outputMetadata) };
}

export function formatSignature(sig: Signature): string {
  const f = (ts: TensorSignature[]) => ts.map((t) => `${t.name}[${t.shape.join(',')}]`).join(' ');
  return `inputs ${f(sig.inputs)} -> outputs ${f(sig.outputs)}`;
}

export function describe(
  role: ModelRoleName, family: string, file: ModelFile, inputWidth: number, inputHeight: number,
  embeddingSize = 0,
): ModelDescription {
  return {
    role, family, name: basename(file.path), pack: file.pack, inputWidth, inputHeight, embeddingSize,
    samePersonThreshold: file.samePersonThreshold ?? 0,
  };
}
