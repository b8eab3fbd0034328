/**
 * Finds the messages in a gRPC, gRPC-Web or Connect-streaming body, whatever its chunking:
 * each is a 5-byte prefix (flags, then the payload length, big-endian) and the payload. The
 * network layer only counts and sizes them; Connect parses them.
 */

export interface EnvelopeEvents {
  /** A prefix was read: `size` payload bytes follow, up to byte `end` of the whole body. */
  start?(size: number, end: number): void;
  /** A whole message went by. */
  end?(flags: number, size: number): void;
}

/** The bytes before each message: its flags, then its length (big-endian). */
export const ENVELOPE_PREFIX = 5;

/** The flag of the Connect protocol's end-of-stream message. */
export const CONNECT_END_STREAM = 0x02;

/** Flag bits of messages that end a stream rather than carry one: gRPC-Web trailers, Connect end-stream. */
const END_OF_STREAM_FLAGS = 0x80 | CONNECT_END_STREAM;

export const isDataMessage = (flags: number): boolean => (flags & END_OF_STREAM_FLAGS) === 0;

export const ENVELOPED_CONTENT_TYPE = /^application\/(grpc|connect\+)/i;

/** `message` in its envelope: the 5-byte prefix, then the message. */
export function enveloped(message: Uint8Array, flags = 0): Buffer {
  const out = Buffer.allocUnsafe(ENVELOPE_PREFIX + message.length);
  out[0] = flags;
  out.writeUInt32BE(message.length, 1);
  out.set(message, ENVELOPE_PREFIX);
  return out;
}

export class EnvelopeScanner {
  private readonly prefix = Buffer.alloc(ENVELOPE_PREFIX);
  private prefixBytes = 0;
  /** Payload bytes still to come of the current message; -1 while reading a prefix. */
  private left = -1;
  private flags = 0;
  private size = 0;
  /** Bytes fed before the current chunk. */
  private position = 0;

  constructor(private readonly on: EnvelopeEvents) {}

  feed(chunk: Uint8Array): void {
    let at = 0;
    while (at < chunk.length) {
      if (this.left < 0) {
        const take = Math.min(ENVELOPE_PREFIX - this.prefixBytes, chunk.length - at);
        this.prefix.set(chunk.subarray(at, at + take), this.prefixBytes);
        this.prefixBytes += take;
        at += take;
        if (this.prefixBytes < ENVELOPE_PREFIX) break;
        this.prefixBytes = 0;
        this.flags = this.prefix[0];
        this.size = this.prefix.readUInt32BE(1);
        this.left = this.size;
        this.on.start?.(this.size, this.position + at + this.size);
      } else {
        const take = Math.min(this.left, chunk.length - at);
        this.left -= take;
        at += take;
      }
      if (this.left === 0) {
        this.left = -1;
        this.on.end?.(this.flags, this.size);
      }
    }
    this.position += chunk.length;
  }
}
