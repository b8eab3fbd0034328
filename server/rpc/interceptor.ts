/**
 * Wraps every RPC (all protocols): one log line and the metrics per call, and no internals in
 * answers: an unexpected error is logged with its stack under the request id and answered as
 * INTERNAL with that id only. API keys are checked before the call reaches Connect (adapter.ts,
 * from the headers alone); the check here stays as a second line should a path ever miss that.
 * Calls refused before Connect decodes them are recorded with `recordRpc` by the adapter.
 */
import { Code, ConnectError, type Interceptor } from '@connectrpc/connect';
import type { Logger } from 'pino';
import { Health } from '../../gen/grpc/health/v1/health_pb.js';
import { codeName, ServiceError, toConnectError } from '../errors.js';
import { UNAUTHENTICATED_MESSAGE, type ApiKeys } from '../http/auth.js';
import type { Metrics, Protocol } from '../metrics.js';

export function protocolOf(contentType: string | null | undefined): Protocol {
  if (contentType?.startsWith('application/grpc-web')) return 'grpc-web';
  if (contentType?.startsWith('application/grpc')) return 'grpc';
  return 'connect';
}

export interface RpcCall {
  reqId: string;
  protocol: Protocol;
  method: string;
  /** 'ok', 'canceled', or the code's name (resource_exhausted). */
  outcome: string;
  seconds: number;
}

/** The log line and the metrics of one RPC, however it ended. */
export function recordRpc(deps: { metrics: Metrics; log: Logger }, call: RpcCall): void {
  const { reqId, protocol, method, outcome, seconds } = call;
  deps.metrics.request(protocol, method, outcome, seconds);
  deps.log.info({ reqId, protocol, method, outcome, ms: Math.round(seconds * 1000) }, 'rpc');
}

/** A refusal counted by its reason, for the kinds the metrics name. */
export function countRefusal(metrics: Metrics, err: ServiceError): void {
  if (err.kind === 'overloaded' || err.kind === 'limit' || err.kind === 'unauthenticated') metrics.reject(err.kind);
}

export function observeRpcs(deps: { keys: ApiKeys; metrics: Metrics; log: Logger }): Interceptor {
  const { keys, metrics, log } = deps;
  return (next) => async (req) => {
    const start = performance.now();
    const protocol = protocolOf(req.header.get('content-type'));
    const method = req.method.name;
    const reqId = req.header.get('x-request-id') ?? '';
    let finished = false;
    const finish = (outcome: string) => {
      if (finished) return;
      finished = true;
      recordRpc(deps, { reqId, protocol, method, outcome, seconds: (performance.now() - start) / 1000 });
    };
    const fail = (err: unknown): ConnectError => {
      const known = err instanceof ConnectError ? err : undefined;
      if (!known) log.error({ reqId, method, err }, 'internal error');
      const answer = known ?? new ConnectError(`internal error (request id ${reqId})`, Code.Internal);
      finish(codeName(answer.code));
      return answer;
    };
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
