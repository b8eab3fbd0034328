/**
 * Wraps every RPC (all protocols): it decides each call's outcome, and keeps internals out of
 * answers: an unexpected error is logged with its stack under the request id and answered as
 * INTERNAL with that id only. The call's log line and metrics are written by the adapter when
 * the response is done (adapter.ts), so an answer the client never read is counted as
 * 'disconnected', not 'ok'. API keys are checked before the call reaches Connect (adapter.ts,
 * from the headers alone); the check here stays as a second line should a path ever miss that.
 */
import { Code, ConnectError, createContextKey, type HandlerContext, type Interceptor } from '@connectrpc/connect';
import type { Logger } from 'pino';
import { Health } from '../../gen/grpc/health/v1/health_pb.js';
import { codeName, ServiceError, toConnectError } from '../errors.js';
import { UNAUTHENTICATED_MESSAGE, type ApiKeys } from '../http/auth.js';
import type { Metrics, Protocol } from '../metrics.js';
import type { Call } from '../pipeline/extract.js';
import type { HeaderOf } from './grpc-direct.js';

export function protocolOf(contentType: string | null | undefined): Protocol {
  if (contentType?.startsWith('application/grpc-web')) return 'grpc-web';
  if (contentType?.startsWith('application/grpc')) return 'grpc';
  return 'connect';
}

/** One RPC as the adapter and the interceptor both see it: a Connect context value per call. */
export interface RpcCall {
  reqId: string;
  protocol: Protocol;
  method: string;
  /** performance.now() when the request arrived. */
  started: number;
  /** 'ok', 'canceled', or the code's name (resource_exhausted); the first one decided wins. */
  outcome?: string;
  /** Served by the direct gRPC path (grpc-direct.ts) rather than Connect's; said in the log line. */
  direct?: boolean;
}

export const RPC_CALL = createContextKey<RpcCall | undefined>(undefined, { description: 'the RPC being served' });

/** The call as Connect's route hands it to a method's implementation: its request id (set by the adapter) and its end. */
export const callOf = (context: HandlerContext): Call => ({ reqId: context.values.get(RPC_CALL)?.reqId ?? '', signal: context.signal });

/** The request's headers as Connect's route hands them to a method's implementation (the direct path reads its own). */
export const headerOf = (context: HandlerContext): HeaderOf => (name) => context.requestHeader.get(name);

/**
 * The log line and the metrics of one RPC once its response is done: `delivered` is false when
 * the client went away before the whole answer was written.
 */
export function recordRpc(deps: { metrics: Metrics; log: Logger }, call: RpcCall, delivered: boolean): void {
  const { reqId, protocol, method } = call;
  const outcome = delivered ? call.outcome ?? 'canceled' : 'disconnected';
  const seconds = (performance.now() - call.started) / 1000;
  deps.metrics.request(protocol, method, outcome, seconds);
  deps.log.info({ reqId, protocol, method, outcome, ms: Math.round(seconds * 1000), ...(call.direct ? { direct: true } : {}) }, 'rpc');
}

/**
 * Whether `err` only says that the request stopped arriving: its client left, or the server
 * ended it for stalling. The signal may not be aborted yet when the read fails first.
 */
const ENDED_CODES = new Set(['ERR_STREAM_PREMATURE_CLOSE', 'ECONNRESET', 'ERR_HTTP2_STREAM_ERROR', 'ERR_STREAM_DESTROYED']);

export function requestEnded(err: unknown, signal?: AbortSignal): boolean {
  const connectErr = ConnectError.from(err);
  const node = (connectErr.cause ?? err) as NodeJS.ErrnoException | undefined;
  return signal?.aborted === true || ENDED_CODES.has(node?.code ?? '') || node?.message === 'aborted'
    || connectErr.code === Code.Aborted || connectErr.code === Code.Canceled;
}

/** A refusal counted by its reason, for the kinds the metrics name. */
export function countRefusal(metrics: Metrics, err: ServiceError): void {
  if (err.kind === 'overloaded' || err.kind === 'limit' || err.kind === 'unauthenticated') metrics.reject(err.kind);
}

/**
 * The error a failed call answers with, its outcome set on `call`: a refusal keeps its code and
 * words; a request its client left, or the server ended for stalling (its body timeout), is
 * 'canceled', not an internal error; anything else is logged with its stack and answered as
 * INTERNAL with the request id only.
 */
export function failedCall(log: Logger, call: RpcCall, signal: AbortSignal, err: unknown): ConnectError {
  const { reqId, method } = call;
  const converted = toConnectError(err);
  const known = converted instanceof ConnectError ? converted : undefined;
  if (!known && requestEnded(err, signal)) {
    log.debug({ reqId, method, err }, 'request ended before its answer');
    call.outcome ??= 'canceled';
    return new ConnectError('request ended', Code.Canceled);
  }
  if (!known) log.error({ reqId, method, err }, 'internal error');
  const answer = known ?? new ConnectError(`internal error (request id ${reqId})`, Code.Internal);
  call.outcome ??= codeName(answer.code);
  return answer;
}

export function observeRpcs(deps: { keys: ApiKeys; metrics: Metrics; log: Logger }): Interceptor {
  const { keys, metrics, log } = deps;
  return (next) => async (req) => {
    // The adapter gives every call its record; in-process callers without one get their own.
    const call = req.contextValues.get(RPC_CALL) ?? {
      reqId: req.header.get('x-request-id') ?? '', protocol: protocolOf(req.header.get('content-type')), method: req.method.name, started: performance.now(),
    };
    const finish = (outcome: string) => { call.outcome ??= outcome; };
    const fail = (err: unknown): ConnectError => failedCall(log, call, req.signal, err);
    try {
      // Health checks stay open, as /healthz does: orchestrators' probes carry no keys.
      if (req.service.typeName !== Health.typeName && !keys.allows(req.header.get('authorization'), req.header.get('x-api-key'))) {
        metrics.reject('unauthenticated');
        throw toConnectError(new ServiceError('unauthenticated', UNAUTHENTICATED_MESSAGE));
      }
      const res = await next(req);
      if (!res.stream) {
        finish('ok');
        return res;
      }
      const messages = res.message;
      return {
        ...res,
        message: (async function* () {
          try {
            yield* messages;
            finish('ok');
          } catch (err) {
            throw fail(err);
          } finally {
            finish('canceled');
          }
        })(),
      };
    } catch (err) {
      throw fail(err);
    }
  };
}
