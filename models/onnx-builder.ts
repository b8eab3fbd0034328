/**
 * Writes small ONNX graphs: the preprocessing graphs the detectors run natively, and, in tests,
 * models of layouts no real model here has (InsightFace's genderage, MXNet-style in-graph
 * normalisation). Field numbers are those of onnx.proto.
 */
import { BinaryWriter, WireType } from '@bufbuild/protobuf/wire';

export type Dim = number | string;

export interface NodeSpec {
  op: string;
  inputs: string[];
  outputs: string[];
  name?: string;
  /** Integer-list, integer and string attributes. */
  ints?: Record<string, number[]>;
  int?: Record<string, number>;
  str?: Record<string, string>;
}

/** TensorProto.DataType values used here. */
export const ElemType = { float: 1, uint8: 2, int64: 7 } as const;

export interface ModelSpec {
  input: { name: string; shape: Dim[]; elemType?: number };
  extraInputs?: { name: string; shape: Dim[]; elemType?: number }[];
  output: { name: string; shape: Dim[] };
  nodes: NodeSpec[];
  /** Constants by name, with their shape; float unless `int64` is set. */
  constants?: Record<string, { dims: number[]; values: number[]; int64?: boolean }>;
  opset?: number;
}

const LEN = WireType.LengthDelimited;
const FLOAT = 1; // TensorProto.DataType.FLOAT

function valueInfo(w: BinaryWriter, field: number, name: string, shape: Dim[], elemType: number = FLOAT) {
  w.tag(field, LEN).fork();
  w.tag(1, LEN).string(name);
  w.tag(2, LEN).fork(); // TypeProto
  w.tag(1, LEN).fork(); // TypeProto.Tensor
  w.tag(1, WireType.Varint).int32(elemType);
  w.tag(2, LEN).fork(); // TensorShapeProto
  for (const d of shape) {
    w.tag(1, LEN).fork();
    if (typeof d === 'number') w.tag(1, WireType.Varint).int64(d);
    else w.tag(2, LEN).string(d);
    w.join();
  }
  w.join().join().join().join();
}

export function buildOnnx(spec: ModelSpec): Uint8Array {
  const w = new BinaryWriter();
  w.tag(1, WireType.Varint).int64(8); // ir_version
  w.tag(8, LEN).fork().tag(1, LEN).string('').tag(2, WireType.Varint).int64(spec.opset ?? 13).join();
  w.tag(7, LEN).fork(); // graph
  spec.nodes.forEach((n, i) => {
    w.tag(1, LEN).fork();
    for (const x of n.inputs) w.tag(1, LEN).string(x);
    for (const x of n.outputs) w.tag(2, LEN).string(x);
    w.tag(3, LEN).string(n.name ?? `${n.op}_${i}`);
    w.tag(4, LEN).string(n.op);
    for (const [name, values] of Object.entries(n.ints ?? {})) {
      w.tag(5, LEN).fork().tag(1, LEN).string(name).tag(20, WireType.Varint).int32(7); // INTS
      for (const v of values) w.tag(8, WireType.Varint).int64(v);
      w.join();
    }
    for (const [name, value] of Object.entries(n.str ?? {})) {
      w.tag(5, LEN).fork().tag(1, LEN).string(name).tag(20, WireType.Varint).int32(3) // STRING
        .tag(4, LEN).bytes(new TextEncoder().encode(value)).join();
    }
    for (const [name, value] of Object.entries(n.int ?? {})) {
      w.tag(5, LEN).fork().tag(1, LEN).string(name).tag(20, WireType.Varint).int32(2) // INT
        .tag(3, WireType.Varint).int64(value).join();
    }
    w.join();
  });
  w.tag(2, LEN).string('test_graph');
  for (const [name, { dims, values, int64 }] of Object.entries(spec.constants ?? {})) {
    w.tag(5, LEN).fork();
    for (const d of dims) w.tag(1, WireType.Varint).int64(d);
    w.tag(2, WireType.Varint).int32(int64 ? ElemType.int64 : FLOAT);
    w.tag(8, LEN).string(name);
    const data = int64 ? BigInt64Array.from(values.map(BigInt)) : Float32Array.from(values);
    w.tag(9, LEN).bytes(new Uint8Array(data.buffer));
    w.join();
  }
  for (const i of [spec.input, ...(spec.extraInputs ?? [])]) valueInfo(w, 11, i.name, i.shape, i.elemType);
  valueInfo(w, 12, spec.output.name, spec.output.shape);
  w.join();
  return w.finish();
}
