/**
 * Raw protocol bytes for attacks that a well-behaved client library will not send: HTTP/2 frames
 * written by hand (header blocks as HPACK literals, never indexed or Huffman-coded), gRPC and
 * Connect envelopes, and plain TCP sockets to 127.0.0.1. Only what the attacks need; answers are
 * read as frames (type, flags, stream), not decoded, except DATA payloads.
 */
import { once } from 'node:events';
import net from 'node:net';
import { gzipSync } from 'node:zlib';
import { frame } from '../../test/helpers/h2-frames.js';

/** Frames are written by the same helper the tests use. */
export { frame };

export const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

export const FRAME = {
  DATA: 0, HEADERS: 1, RST_STREAM: 3, SETTINGS: 4, PING: 6, GOAWAY: 7, WINDOW_UPDATE: 8, CONTINUATION: 9,
} as const;
export const FLAG = { END_STREAM: 0x1, ACK: 0x1, END_HEADERS: 0x4 } as const;
/** RST_STREAM error codes. */
export const CANCEL = 0x8;


export function settings(entries: [number, number][] = [], ack = false): Buffer {
  const payload = Buffer.alloc(entries.length * 6);
  entries.forEach(([id, value], i) => {
    payload.writeUInt16BE(id, i * 6);
    payload.writeUInt32BE(value, i * 6 + 2);
  });
  return frame(FRAME.SETTINGS, ack ? FLAG.ACK : 0, 0, payload);
}

function hpackInt(value: number, prefixBits: number, firstByte: number): Buffer {
  const max = (1 << prefixBits) - 1;
  if (value < max) return Buffer.from([firstByte | value]);
  const out = [firstByte | max];
  let v = value - max;
  while (v >= 128) {
    out.push((v % 128) + 128);
    v = Math.floor(v / 128);
  }
  out.push(v);
  return Buffer.from(out);
}

/** A header block of literal fields without indexing (RFC 7541 6.2.2): the server keeps no state for them. */
export function headerBlock(headers: [string, string][]): Buffer {
  const parts: Buffer[] = [];
  for (const [name, value] of headers) {
    const n = Buffer.from(name, 'latin1');
    const v = Buffer.from(value, 'latin1');
    parts.push(Buffer.from([0x00]), hpackInt(n.length, 7, 0), n, hpackInt(v.length, 7, 0), v);
  }
  return Buffer.concat(parts);
}

export function headersFrame(stream: number, headers: [string, string][], endStream = false): Buffer {
  return frame(FRAME.HEADERS, FLAG.END_HEADERS | (endStream ? FLAG.END_STREAM : 0), stream, headerBlock(headers));
}

/** DATA frames of at most 16 KiB (the default SETTINGS_MAX_FRAME_SIZE). */
export function dataFrames(stream: number, payload: Uint8Array, endStream = false): Buffer {
  const frames: Buffer[] = [];
  for (let at = 0; at < payload.length || frames.length === 0; at += 16384) {
    const last = at + 16384 >= payload.length;
    frames.push(frame(FRAME.DATA, last && endStream ? FLAG.END_STREAM : 0, stream, payload.subarray(at, at + 16384)));
  }
  return Buffer.concat(frames);
}

export function rstStream(stream: number, code = CANCEL): Buffer {
  const payload = Buffer.alloc(4);
  payload.writeUInt32BE(code);
  return frame(FRAME.RST_STREAM, 0, stream, payload);
}

export function windowUpdate(stream: number, increment: number): Buffer {
  const payload = Buffer.alloc(4);
  payload.writeUInt32BE(increment);
  return frame(FRAME.WINDOW_UPDATE, 0, stream, payload);
}

/** Request headers of a gRPC call (HTTP/2). */
export function grpcHeaders(path: string, extra: Record<string, string> = {}): [string, string][] {
  return [
    [':method', 'POST'], [':scheme', 'http'], [':path', path], [':authority', '127.0.0.1'],
    ['content-type', 'application/grpc'], ['te', 'trailers'], ...Object.entries(extra),
  ];
}

/** A gRPC / Connect-streaming envelope: flag byte (1 = compressed), 4-byte length, message. */
export function envelope(message: Uint8Array, compressed = false): Buffer {
  const head = Buffer.alloc(5);
  head[0] = compressed ? 1 : 0;
  head.writeUInt32BE(message.length, 1);
  return Buffer.concat([head, message]);
}

/** Protobuf: a length-delimited field. */
export function pbBytes(field: number, value: Uint8Array): Buffer {
  const len: number[] = [];
  let v = value.length;
  while (v >= 128) {
    len.push((v % 128) + 128);
    v = Math.floor(v / 128);
  }
  len.push(v);
  return Buffer.concat([Buffer.from([(field << 3) | 2, ...len]), value]);
}

/** An ExtractRequest with these images (field 1: Image{data = 1}). */
export const extractRequest = (images: Uint8Array[]) => Buffer.concat(images.map((d) => pbBytes(1, pbBytes(1, d))));

/**
 * A well-formed ExtractRequest of `count` images of `each` bytes ('A's, within the per-image
 * limit when `each` is): for uploads that stall, a body the server has no reason to refuse
 * before it has all of it. (Bytes that are not protobuf are refused at once, as they should be.)
 */
export function bigExtractRequest(count: number, each: number): Buffer {
  const image = pbBytes(1, pbBytes(1, Buffer.alloc(each, 0x41)));
  return Buffer.concat(Array.from({ length: count }, () => image));
}

export const EXTRACT = '/facerest.v1.FaceService/Extract';
export const EXTRACT_STREAM = '/facerest.v1.FaceService/ExtractStream';

export interface Frame {
  type: number;
  flags: number;
  stream: number;
  payload: Buffer;
}

/** Splits a byte stream into HTTP/2 frames (after the server's own preface-less start). */
export class FrameReader {
  private buffer: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): Frame[] {
    this.buffer = this.buffer.length ? Buffer.concat([this.buffer, chunk]) : chunk;
    const frames: Frame[] = [];
    while (this.buffer.length >= 9) {
      const length = this.buffer.readUIntBE(0, 3);
      if (this.buffer.length < 9 + length) break;
      frames.push({
        type: this.buffer[3], flags: this.buffer[4], stream: this.buffer.readUInt32BE(5) & 0x7fffffff,
        payload: this.buffer.subarray(9, 9 + length),
      });
      this.buffer = this.buffer.subarray(9 + length);
    }
    return frames;
  }
}

/** A TCP connection to the server; errors are kept, never thrown (resets are what attacks expect). */
export async function connect(port: number, timeoutMs = 5000): Promise<net.Socket> {
  const socket = net.connect({ port, host: '127.0.0.1' });
  socket.on('error', () => undefined);
  await Promise.race([
    once(socket, 'connect'),
    new Promise((_, reject) => setTimeout(() => reject(new Error('connect timed out')), timeoutMs)),
  ]).catch((err) => {
    socket.destroy();
    throw err;
  });
  return socket;
}

/**
 * An HTTP/2 connection driven by hand: preface and empty SETTINGS sent; the server's SETTINGS and
 * PINGs are acknowledged (unless `quiet`, for clients that never read); frames are collected.
 */
export class RawH2 {
  readonly frames: Frame[] = [];
  closed = false;
  private readonly reader = new FrameReader();
  /** Acknowledgements held back while the client's own preface is still being written. */
  private held: Buffer[] | undefined;

  /**
   * `quiet`: never read (a client that reads nothing; call read() later to see what came).
   * `holdAcks`: the caller writes the preface itself, in pieces: acknowledgements wait for
   * releaseAcks(), since a client's first frame must be its own SETTINGS (RFC 9113, 3.4).
   */
  constructor(readonly socket: net.Socket, quiet = false, holdAcks = false) {
    socket.on('close', () => { this.closed = true; });
    if (holdAcks) this.held = [];
    if (!quiet) this.read();
  }

  /** Starts parsing what the server sends (and acknowledging its SETTINGS and PINGs). */
  read(): void {
    this.socket.on('data', (chunk: Buffer) => {
      for (const f of this.reader.push(chunk)) {
        if (this.frames.length < 100_000) this.frames.push(f);
        if (f.type === FRAME.SETTINGS && !(f.flags & FLAG.ACK)) this.ack(settings([], true));
        if (f.type === FRAME.PING && !(f.flags & FLAG.ACK)) this.ack(frame(FRAME.PING, FLAG.ACK, 0, f.payload));
      }
    });
    this.socket.resume();
  }

  releaseAcks(): void {
    const held = this.held ?? [];
    this.held = undefined;
    for (const b of held) this.write(b);
  }

  private ack(bytes: Buffer): void {
    if (this.held) this.held.push(bytes);
    else this.write(bytes);
  }

  static async open(port: number, quiet = false): Promise<RawH2> {
    const socket = await connect(port);
    const h2 = new RawH2(socket, quiet);
    socket.write(Buffer.concat([PREFACE, settings()]));
    return h2;
  }

  write(bytes: Buffer): boolean {
    return !this.socket.destroyed && this.socket.write(bytes);
  }

  /** Whether the server ended the stream or the connection: RST_STREAM, GOAWAY, END_STREAM, or a closed socket. */
  ended(stream: number): boolean {
    return this.closed || this.frames.some((f) => f.type === FRAME.GOAWAY
      || (f.stream === stream && (f.type === FRAME.RST_STREAM || (f.flags & FLAG.END_STREAM) !== 0)));
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/**
 * gzip of `bytes` zero bytes, about 1 KB per MiB: a bomb. Made of 64 MiB gzip members, which
 * decompress back to back as one stream (RFC 1952, 2.2), so 1 GiB costs 0.2 s to make instead
 * of 3 s of one long deflate.
 */
export function gzipOfZeros(bytes: number): Buffer {
  const memberSize = 64 << 20;
  const member = gzipSync(Buffer.alloc(Math.min(bytes, memberSize)), { level: 9 });
  const members = Array.from({ length: Math.floor(bytes / memberSize) }, () => member);
  const rest = bytes % memberSize;
  if (rest && bytes > memberSize) members.push(gzipSync(Buffer.alloc(rest), { level: 9 }));
  return Buffer.concat(members.length ? members : [member]);
}
