/**
 * The common unary gRPC call, served without Connect's per-call machinery: HTTP/2, protobuf
 * messages, no compression, one complete message in the body. The methods that carry photos
 * (Extract, Enroll, Identify, Verify) are served so; server/app.ts names them. Connect builds a
 * handler context, linked abort signals and a pipeline of async iterables for every call,
 * whatever its shape; under gRPC load that cost the main thread about 0.8 ms a photo more than
 * the legacy REST route and kept V8's compiler busy recompiling the closures involved
 * (bench/throughput-history.md, round thirteen). Here a call is the body read into one buffer,
 * the same checks, the same implementation, and the answer written once.
 *
 * Only the common case is taken. Any other body (compressed or oversized envelopes, extra or
 * missing messages, a message the checks refuse or protobuf-es cannot read) is handed to the
 * Connect path with the bytes read so far (its checks then run again, on that path only), so
 * every refusal keeps Connect's words and codes; so are calls with a malformed grpc-timeout. The
 * answer's headers and trailers are Connect's (test/grpc-direct.test.ts compares the two paths on
 * the wire).
 */
import { fromBinary, toBinary, type DescMethodUnary, type DescMessage, type MessageShape } from '@bufbuild/protobuf';
import { Code, ConnectError } from '@connectrpc/connect';
import { createDeadlineSignal, createLinkedAbortController } from '@connectrpc/connect/protocol';
import { parseTimeout, setTrailerStatus } from '@connectrpc/connect/protocol-grpc';
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2';
import type { Logger } from 'pino';
import type { Limits } from '../config.js';
import { ENVELOPE_PREFIX, enveloped } from '../http/envelope.js';
import { answered } from '../http/exchange.js';
import type { Call } from '../pipeline/extract.js';
import { MessageCheck } from './body-guard.js';
import { failedCall, type RpcCall } from './interceptor.js';

/** One request header as the call carries it (the gallery's methods read the caller's key). */
export type HeaderOf = (name: string) => string | string[] | null | undefined;

/** A unary method the direct path serves, with the implementation Connect's route also runs. */
export interface DirectMethod<I extends DescMessage = DescMessage, O extends DescMessage = DescMessage> {
  method: DescMethodUnary<I, O>;
  serve(request: MessageShape<I>, call: Call, header: HeaderOf): Promise<MessageShape<O>>;
}

/** Bytes a handed-over call has already read, then the rest of its body. */
async function* replay(read: Uint8Array[], rest: AsyncIterator<Uint8Array>): AsyncGenerator<Uint8Array> {
  yield* read;
  for (let next = await rest.next(); !next.done; next = await rest.next()) yield next.value;
}

/** What the Connect path needs to take a call over: its body, from the first byte. */
export type HandOver = (body: AsyncIterable<Uint8Array>) => void;

/**
 * The call's one message, or undefined when the body is not a single plain message within the
 * limits; `read` then holds every chunk taken from `body`.
 */
async function readMessage(body: AsyncIterator<Uint8Array>, input: DescMessage, limits: Limits, read: Uint8Array[]): Promise<Uint8Array | undefined> {
  let size = 0;
  let length = -1; // -1 until the envelope's head is in
  let check: MessageCheck | undefined;
  for (let next = await body.next(); !next.done; next = await body.next()) {
    const chunk = next.value;
    read.push(chunk);
    const offset = size;
    size += chunk.length;
    if (length < 0 && size >= ENVELOPE_PREFIX) {
      const head = Buffer.concat(read, ENVELOPE_PREFIX);
      length = head.readUInt32BE(1);
      // A compressed flag, or a message over the limit: Connect's (and the body guard's) to refuse.
      if (head[0] !== 0 || length > limits.maxBodyBytes) return undefined;
      check = new MessageCheck(input, false, limits);
    }
    if (size > ENVELOPE_PREFIX + length && length >= 0) return undefined; // a second message
    if (check) {
      const start = Math.max(0, ENVELOPE_PREFIX - offset);
      if (start < chunk.length) {
        try {
          check.write(chunk.subarray(start));
        } catch {
          return undefined;
        }
      }
    }
  }
  if (!check || size !== ENVELOPE_PREFIX + length) return undefined;
  const whole = read.length === 1 ? read[0] : Buffer.concat(read, size);
  const message = whole.subarray(ENVELOPE_PREFIX);
  try {
    check.end(message, true);
  } catch {
    return undefined;
  }
  return message;
}

/** The message as protobuf-es reads it; undefined when it cannot (Connect's to name: a string that is not UTF-8, for one). */
function decoded<I extends DescMessage>(input: I, message: Uint8Array | undefined): MessageShape<I> | undefined {
  if (!message) return undefined;
  try {
    return fromBinary(input, message);
  } catch {
    return undefined;
  }
}

const CONTENT_TYPE = 'application/grpc+proto';

/** What the direct path needs from a call's headers: its grpc-timeout, in ms if it has one. */
export interface DirectCall {
  timeoutMs?: number;
}

/**
 * The call as the direct path takes it, judged from its headers alone, or undefined when it is
 * Connect's. The grpc-timeout is read as Connect reads it (no upper bound is configured); a
 * malformed one is Connect's to refuse.
 */
export function directCall(req: Http2ServerRequest): DirectCall | undefined {
  const type = req.headers['content-type'];
  const encoding = req.headers['grpc-encoding'];
  if (req.method !== 'POST' || (type !== 'application/grpc' && type !== CONTENT_TYPE)) return undefined;
  if (encoding !== undefined && encoding !== 'identity') return undefined;
  const value = req.headers['grpc-timeout'];
  const timeout = parseTimeout(Array.isArray(value) ? value.join(', ') : value ?? null, Number.MAX_SAFE_INTEGER);
  return timeout.error ? undefined : { timeoutMs: timeout.timeoutMs };
}

export async function serveDirect(
  direct: DirectMethod, req: Http2ServerRequest, res: Http2ServerResponse, { timeoutMs }: DirectCall, call: RpcCall,
  deps: { limits: Limits; log: Logger }, handOver: HandOver,
): Promise<void> {
  // The deadline runs from the request's arrival, as Connect's does.
  const deadline = timeoutMs === undefined ? undefined : createDeadlineSignal(timeoutMs);
  const ends = createLinkedAbortController(deadline?.signal);
  res.once('close', () => { if (!answered(res)) ends.abort(new ConnectError('the client ended the call', Code.Canceled)); });
  const trailer = new Headers();
  let answer: Uint8Array | undefined;
  call.direct = true;
  try {
    const body = req.iterator({ destroyOnReturn: false }) as AsyncIterator<Uint8Array>;
    const read: Uint8Array[] = [];
    const request = decoded(direct.method.input, await readMessage(body, direct.method.input, deps.limits, read));
    if (!request) {
      call.direct = false;
      return handOver(replay(read, body));
    }
    const served = await direct.serve(request, { reqId: call.reqId, signal: ends.signal }, (name) => req.headers[name]);
    answer = toBinary(direct.method.output, served);
    call.outcome ??= 'ok';
    setTrailerStatus(trailer, undefined);
  } catch (err) {
    // The call failed, or its body did: cut off by the client, or refused for the server's
    // budget of bodies in memory (exchange.ts).
    setTrailerStatus(trailer, failedCall(deps.log, call, ends.signal, err));
  } finally {
    deadline?.cleanup();
  }
  if (res.destroyed) return;
  res.writeHead(200, { 'content-type': CONTENT_TYPE });
  res.addTrailers(Object.fromEntries(trailer));
  if (answer) res.end(enveloped(answer));
  else res.end();
}
