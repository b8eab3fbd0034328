/**
 * Every RPC request body on its way into Connect: each message (the whole body for Connect
 * unary, each envelope for gRPC, gRPC-Web and Connect streaming) is held to the body limit as it
 * arrives, counted by a prescan while it arrives (so a body of millions of tiny images is
 * refused after its first kilobytes), decompressed here if it is compressed (bounded by the same
 * limit), and walked in full before Connect decodes it. A refusal is a ServiceError turned into
 * the ConnectError Connect answers with, in the request's own protocol. Messages go on to
 * Connect uncompressed, so nothing is decompressed twice.
 */
import { promisify } from 'node:util';
import { brotliDecompress, gunzip } from 'node:zlib';
import type { DescMessage } from '@bufbuild/protobuf';
import type { Limits } from '../config.js';
import { ServiceError, toConnectError } from '../errors.js';
import { ENVELOPE_PREFIX, enveloped } from '../http/envelope.js';
import { bodyTooLarge } from '../http/preflight.js';
import { jsonBudget, wireBudget } from '../parse/budgets.js';
import { JsonScanner } from '../parse/json-scan.js';
import { checkWire, WirePrescan } from '../parse/wire-scan.js';

const DECOMPRESS: Record<string, (data: Uint8Array, options: { maxOutputLength: number }) => Promise<Buffer>> = {
  gzip: promisify(gunzip),
  br: promisify(brotliDecompress),
};

/** How a request's body is framed and encoded, from its headers. */
interface Framing {
  enveloped: boolean;
  json: boolean;
  /** Content coding of the messages: undefined = none. */
  encoding?: string;
}

function framingOf(header: Headers): Framing | undefined {
  const type = (header.get('content-type') ?? '').split(';')[0].trim().toLowerCase();
  const coding = (name: string) => {
    const value = header.get(name)?.trim().toLowerCase();
    return value && value !== 'identity' ? value : undefined;
  };
  if (/^application\/grpc(-web)?(\+proto|\+json)?$/.test(type)) {
    return { enveloped: true, json: type.endsWith('+json'), encoding: coding('grpc-encoding') };
  }
  if (/^application\/connect\+(proto|json)$/.test(type)) {
    return { enveloped: true, json: type.endsWith('json'), encoding: coding('connect-content-encoding') };
  }
  if (type === 'application/proto' || type === 'application/json') {
    return { enveloped: false, json: type === 'application/json', encoding: coding('content-encoding') };
  }
  // Anything else (gRPC-Web text, unknown types) Connect refuses without reading the body.
  return undefined;
}

/** One message's checks: a prescan while it arrives, the full walk once it is complete. */
export class MessageCheck {
  private readonly prescan: { write(chunk: Uint8Array): void };

  constructor(private readonly input: DescMessage, private readonly json: boolean, private readonly limits: Limits) {
    this.prescan = json ? this.jsonScanner() : new WirePrescan(wireBudget(input, limits));
  }

  /** Bytes of the message as they arrive (not for compressed messages). */
  write(chunk: Uint8Array): void {
    this.prescan.write(chunk);
  }

  /** The complete, uncompressed message; `scanned` when write() has seen all of it. */
  end(message: Uint8Array, scanned: boolean): void {
    if (this.json) {
      if (!scanned) this.jsonScanner().write(message);
    } else {
      checkWire(this.input, message, wireBudget(this.input, this.limits));
    }
  }

  private jsonScanner(): JsonScanner {
    const extract = wireBudget(this.input, this.limits).counted !== undefined;
    return new JsonScanner(jsonBudget(this.limits, extract ? ['images'] : undefined));
  }
}

async function decompress(encoding: string, data: Uint8Array, limit: number): Promise<Uint8Array> {
  try {
    return await DECOMPRESS[encoding](data, { maxOutputLength: limit });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
      throw new ServiceError('limit', `decompressed message exceeds the limit of ${limit} bytes`);
    }
    throw new ServiceError('invalid', `message is not valid ${encoding} data`);
  }
}

/**
 * The body Connect should read instead of `body`; `onRefusal` hears of each refusal before Connect answers it. Compressed Connect unary bodies are
 * decompressed here, so their content-encoding header is removed from `header` (Connect reads
 * it before the body). Returns `body` unchanged when Connect refuses the request anyway.
 */
export function guardBody(
  body: AsyncIterable<Uint8Array>, header: Headers, input: DescMessage, limits: Limits, onRefusal: (err: ServiceError) => void,
): AsyncIterable<Uint8Array> {
  const framing = framingOf(header);
  if (!framing || (framing.encoding && !DECOMPRESS[framing.encoding])) return body;
  if (!framing.enveloped && framing.encoding) header.delete('content-encoding');
  const run = framing.enveloped ? envelopes(body, framing, input, limits) : whole(body, framing, input, limits);
  return (async function* () {
    try {
      yield* run;
    } catch (err) {
      if (err instanceof ServiceError) onRefusal(err);
      throw toConnectError(err);
    }
  })();
}

async function* whole(body: AsyncIterable<Uint8Array>, framing: Framing, input: DescMessage, limits: Limits): AsyncGenerator<Uint8Array> {
  const check = new MessageCheck(input, framing.json, limits);
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.length;
    if (size > limits.maxBodyBytes) throw bodyTooLarge(limits.maxBodyBytes);
    if (!framing.encoding) check.write(chunk);
    chunks.push(chunk);
  }
  let message: Uint8Array = Buffer.concat(chunks, size);
  if (framing.encoding && size > 0) message = await decompress(framing.encoding, message, limits.maxBodyBytes);
  check.end(message, !framing.encoding);
  yield message;
}

/** One envelope's message, complete: decompressed and checked, then framed again for Connect. */
interface Envelope {
  head: Buffer;
  flags: number;
  parts: Uint8Array[];
  length: number;
  check: MessageCheck;
}

// A module function, not a closure inside envelopes(): V8 holds a closure's optimised code
// weakly, so a closure made per call was compiled again after each major collection of the main
// heap (measured under gRPC load: about 30 ms of compiler time each time).
async function* finishEnvelope(e: Envelope, framing: Framing, limits: Limits): AsyncGenerator<Uint8Array> {
  const compressed = (e.flags & 1) === 1;
  let message: Uint8Array = Buffer.concat(e.parts, e.length);
  if (compressed) {
    // A compressed flag without an encoding is Connect's to refuse: pass it on as it came.
    if (!framing.encoding) {
      yield Buffer.concat([e.head, message]);
      return;
    }
    message = await decompress(framing.encoding, message, limits.maxBodyBytes);
  }
  e.check.end(message, !compressed);
  yield enveloped(message, e.flags & ~1);
}

async function* envelopes(body: AsyncIterable<Uint8Array>, framing: Framing, input: DescMessage, limits: Limits): AsyncGenerator<Uint8Array> {
  let head = Buffer.alloc(0);
  let flags = 0;
  let length = -1; // -1: reading the envelope's prefix
  let parts: Uint8Array[] = [];
  let have = 0;
  let check: MessageCheck | undefined;
  for await (const chunk of body) {
    let pos = 0;
    while (pos < chunk.length) {
      if (length < 0) {
        const take = Math.min(ENVELOPE_PREFIX - head.length, chunk.length - pos);
        head = Buffer.concat([head, chunk.subarray(pos, pos + take)]);
        pos += take;
        if (head.length < ENVELOPE_PREFIX) continue;
        flags = head[0];
        length = head.readUInt32BE(1);
        if (length > limits.maxBodyBytes) throw new ServiceError('limit', `message of ${length} bytes exceeds the limit of ${limits.maxBodyBytes} bytes`);
        parts = [];
        have = 0;
        check = new MessageCheck(input, framing.json, limits);
      }
      const take = Math.min(length - have, chunk.length - pos);
      const part = chunk.subarray(pos, pos + take);
      pos += take;
      have += take;
      parts.push(part);
      if ((flags & 1) === 0) check!.write(part);
      if (have === length) {
        yield* finishEnvelope({ head, flags, parts, length, check: check! }, framing, limits);
        head = Buffer.alloc(0);
        length = -1;
      }
    }
  }
  // An incomplete envelope at the end is Connect's to name ("protocol error: incomplete envelope").
  if (head.length > 0 && length < 0) yield head;
  else if (length >= 0) yield Buffer.concat([head, ...parts]);
}
