/**
 * (pixel - mean) / std on 8-bit pixels as ONNX nodes, for the detectors' input (preprocess.ts,
 * input-fusion.ts). The reference is Cast, Sub(mean), Mul(1/std) in float32.
 * DequantizeLinear (opset 10) computes float(x - zero point) * scale in one pass over the
 * tensor instead of three; with zero point floor(mean) and the rest of the mean subtracted
 * afterwards it gives the reference's floats exactly when std is a power of two and the mean a
 * multiple of 1/2 (both families' values: 127/128, 127.5/128), and for other values it may not,
 * so each of the 256 levels is checked here in float32 and the reference nodes are used on any
 * mismatch (test/detector-input-graph.test.ts checks ONNX Runtime agrees, bit for bit).
 */
import { DataType, type Constants, type NodeSpec } from './build.js';

export interface NormalisationNodes {
  nodes: NodeSpec[];
  constants: Constants;
}

/**
 * Nodes from 8-bit `input` to float32 `output`; every name they add starts with `prefix`, so
 * they can go into another model's graph. `opset`: the graph's, which decides whether
 * DequantizeLinear may be used. A mean per channel (in the order of `input`'s planes, axis 1 of
 * NCHW) always takes Cast and Sub, and a Mul unless std is 1.
 */
export function normalisationNodes(input: string, output: string, mean: number | readonly number[], std: number,
  { prefix = '', opset = 18 }: { prefix?: string; opset?: number } = {}): NormalisationNodes {
  const f = Math.fround;
  const scale = f(1 / std);
  const name = (s: string) => `${prefix}${s}`;
  if (typeof mean !== 'number') {
    const centred = scale === 1 ? output : name('centred');
    return {
      nodes: [
        { op: 'Cast', inputs: [input], outputs: [name('float')], int: { to: DataType.FLOAT }, name: name('cast') },
        { op: 'Sub', inputs: [name('float'), name('mean')], outputs: [centred], name: name('sub') },
        ...(scale === 1 ? [] : [{ op: 'Mul', inputs: [centred, name('scale')], outputs: [output], name: name('mul') }]),
      ],
      constants: {
        [name('mean')]: { dims: [1, mean.length, 1, 1], values: [...mean] },
        ...(scale === 1 ? {} : { [name('scale')]: { dims: [], values: [scale] } }),
      },
    };
  }
  const zeroPoint = Math.min(255, Math.max(0, Math.floor(mean)));
  const rest = f(f(mean - zeroPoint) * scale);
  let exact = opset >= 10;
  for (let x = 0; x < 256 && exact; x++) {
    const reference = f(f(x - f(mean)) * scale);
    const dequantised = f((x - zeroPoint) * scale);
    exact = (rest === 0 ? dequantised : f(dequantised - rest)) === reference;
  }
  if (!exact) {
    return {
      nodes: [
        { op: 'Cast', inputs: [input], outputs: [name('float')], int: { to: DataType.FLOAT }, name: name('cast') },
        { op: 'Sub', inputs: [name('float'), name('mean')], outputs: [name('centred')], name: name('sub') },
        { op: 'Mul', inputs: [name('centred'), name('scale')], outputs: [output], name: name('mul') },
      ],
      constants: { [name('mean')]: { dims: [], values: [mean] }, [name('scale')]: { dims: [], values: [scale] } },
    };
  }
  const dequantised = rest === 0 ? output : name('dequantised');
  const nodes: NodeSpec[] = [
    { op: 'DequantizeLinear', inputs: [input, name('scale'), name('zero_point')], outputs: [dequantised], name: name('dequantize') },
  ];
  if (rest !== 0) nodes.push({ op: 'Sub', inputs: [dequantised, name('rest')], outputs: [output], name: name('sub') });
  return {
    nodes,
    constants: {
      [name('scale')]: { dims: [], values: [scale] },
      [name('zero_point')]: { dims: [], values: [zeroPoint], uint8: true },
      ...(rest !== 0 ? { [name('rest')]: { dims: [], values: [rest] } } : {}),
    },
  };
}
