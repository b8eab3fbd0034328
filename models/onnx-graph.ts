/**
 * Reads the first nodes of an ONNX graph straight from the protobuf wire format. onnxruntime
 * shows a model's inputs and outputs but not its nodes, and InsightFace's convention needs
 * them: ArcFace models converted from MXNet begin with Sub and Mul nodes that normalise the
 * input themselves, so they must be fed raw 0..255 pixels.
 */
import { BinaryReader, WireType } from '@bufbuild/protobuf/wire';

const MODEL_GRAPH = 7; // ModelProto.graph
const GRAPH_NODE = 1; // GraphProto.node
const NODE_NAME = 3; // NodeProto.name
const NODE_OP_TYPE = 4; // NodeProto.op_type

export interface GraphNode {
  name: string;
  opType: string;
}

function fieldBytes(bytes: Uint8Array, field: number): Uint8Array | undefined {
  const r = new BinaryReader(bytes);
  while (r.pos < r.len) {
    const [no, type] = r.tag();
    if (no === field && type === WireType.LengthDelimited) return r.bytes();
    r.skip(type, no);
  }
  return undefined;
}

/** The first `count` nodes of the model's main graph, in file order. */
export function firstNodes(model: Uint8Array, count: number): GraphNode[] {
  const graph = fieldBytes(model, MODEL_GRAPH);
  if (!graph) return [];
  const nodes: GraphNode[] = [];
  const r = new BinaryReader(graph);
  while (r.pos < r.len && nodes.length < count) {
    const [no, type] = r.tag();
    if (no !== GRAPH_NODE || type !== WireType.LengthDelimited) {
      r.skip(type, no);
      continue;
    }
    const node = new BinaryReader(r.bytes());
    const n: GraphNode = { name: '', opType: '' };
    while (node.pos < node.len) {
      const [f, t] = node.tag();
      if (f === NODE_NAME && t === WireType.LengthDelimited) n.name = node.string();
      else if (f === NODE_OP_TYPE && t === WireType.LengthDelimited) n.opType = node.string();
      else node.skip(t, f);
    }
    nodes.push(n);
  }
  return nodes;
}

/** InsightFace's test: a Sub and a Mul among the first 8 nodes mean in-graph normalisation. */
export function normalisesInput(model: Uint8Array): boolean {
  const nodes = firstNodes(model, 8);
  const has = (op: string, prefix: string) => nodes.some((n) => n.opType === op || n.name.startsWith(prefix));
  return has('Sub', '_minus') && has('Mul', '_mul');
}
