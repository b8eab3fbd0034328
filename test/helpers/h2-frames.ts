/**
 * Raw HTTP/2 frames for protocol attacks, written straight to a socket (Node's client refuses to
 * send most of them). Header blocks use HPACK literals without Huffman coding.
 */
export const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');

export const FRAME = { DATA: 0x0, HEADERS: 0x1, RST_STREAM: 0x3, SETTINGS: 0x4, PING: 0x6, GOAWAY: 0x7, CONTINUATION: 0x9 };
export const FLAG = { END_STREAM: 0x1, END_HEADERS: 0x4, ACK: 0x1 };

export function frame(type: number, flags: number, stream: number, payload: Uint8Array = Buffer.alloc(0)): Buffer {
  const head = Buffer.alloc(9);
  head.writeUIntBE(payload.length, 0, 3);
  head[3] = type;
  head[4] = flags;
  head.writeUInt32BE(stream & 0x7fffffff, 5);
  return Buffer.concat([head, payload]);
}

/** An HPACK integer with an n-bit prefix. */
function integer(value: number, prefixBits: number, firstByte: number): Buffer {
  const max = (1 << prefixBits) - 1;
  if (value < max) return Buffer.from([firstByte | value]);
  const bytes = [firstByte | max];
  value -= max;
  while (value >= 128) {
    bytes.push((value % 128) + 128);
    value = Math.floor(value / 128);
  }
  bytes.push(value);
  return Buffer.from(bytes);
}

const literal = (s: string) => Buffer.concat([integer(Buffer.byteLength(s), 7, 0), Buffer.from(s)]);

/** A header field "literal without indexing, new name". */
export function header(name: string, value: string): Buffer {
  return Buffer.concat([Buffer.from([0]), literal(name), literal(value)]);
}

/** A request header block: method, path, scheme http, authority, and `extra` fields. */
export function requestHeaders(method: string, path: string, extra: Buffer[] = []): Buffer {
  return Buffer.concat([
    header(':method', method), header(':scheme', 'http'), header(':path', path), header(':authority', 'localhost'),
    ...extra,
  ]);
}

/** Parses frames out of `data` (the server's side of the connection), complete ones only. */
export function parseFrames(data: Buffer): { type: number; flags: number; stream: number; payload: Buffer }[] {
  const frames = [];
  let at = 0;
  while (at + 9 <= data.length) {
    const length = data.readUIntBE(at, 3);
    if (at + 9 + length > data.length) break;
    frames.push({ type: data[at + 3], flags: data[at + 4], stream: data.readUInt32BE(at + 5) & 0x7fffffff, payload: data.subarray(at + 9, at + 9 + length) });
    at += 9 + length;
  }
  return frames;
}
