/**
 * ONNX models as messages. They are read and written with the generated types of onnx.proto
 * (the `onnx-buf` package, protobuf-es), so no field number is written by hand here or anywhere
 * else in the project. onnxruntime shows a model's inputs and outputs but not its nodes or
 * weights; the families and the load-time rewrite read those from here.
 */
import { fromBinary, toBinary } from '@bufbuild/protobuf';
import {
  ModelProtoSchema, TensorProto_DataType, type ModelProto, type TensorProto,
} from 'onnx-buf';

export type { GraphProto, ModelProto, NodeProto, TensorProto } from 'onnx-buf';

export const readModel = (bytes: Uint8Array): ModelProto => fromBinary(ModelProtoSchema, bytes);
export const writeModel = (model: ModelProto): Uint8Array => toBinary(ModelProtoSchema, model);

/** The version of the default operator set (ai.onnx) the model imports; 0 when it names none. */
export function opsetVersion(model: ModelProto): number {
  const opset = model.opsetImport.find((o) => o.domain === '' || o.domain === 'ai.onnx');
  return opset ? Number(opset.version) : 0;
}

/** The values of a FLOAT tensor (raw_data or float_data), or undefined for any other tensor. */
export function floatValues(tensor: TensorProto): Float32Array | undefined {
  if (tensor.dataType !== TensorProto_DataType.FLOAT) return undefined;
  if (tensor.floatData.length > 0) return Float32Array.from(tensor.floatData);
  const raw = tensor.rawData;
  if (raw.byteLength === 0 || raw.byteLength % 4 !== 0) return undefined;
  // Copied (new Uint8Array, not slice: a Node Buffer slice is a view): the bytes may sit at any
  // offset of the file's buffer.
  return new Float32Array(new Uint8Array(raw).buffer);
}

/**
 * InsightFace's test for ArcFace models converted from MXNet: a Sub and a Mul among the first
 * 8 nodes mean the graph normalises its input itself, so it must be fed raw 0..255 pixels.
 */
export function normalisesInput(model: ModelProto): boolean {
  const nodes = model.graph?.node.slice(0, 8) ?? [];
  const has = (op: string, prefix: string) => nodes.some((n) => n.opType === op || n.name.startsWith(prefix));
  return has('Sub', '_minus') && has('Mul', '_mul');
}
