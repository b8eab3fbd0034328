/**
 * Wraps every RPC (all protocols): API key check, one log line and the metrics per call, and no
 * internals in answers: an unexpected error is logged with its stack under the request id and
 * answered as INTERNAL with that id only.
 */
import { Code, ConnectError, type Interceptor } from '@connectrpc/connect';
import type { Logger } from 'pino';
import { Health } from '../../gen/grpc/health/v1/health_pb.js';
import { UNAUTHENTICATED_MESSAGE, type ApiKeys } from '../http/auth.js';
import type { Metrics, Protocol } from '../metrics.js';

export function protocolOf(contentType: string | null | undefined): Protocol {
  if (contentType?.startsWith('application/grpc-web')) return 'grpc-web';
  if (contentType?.startsWith('application/grpc')) return 'grpc';
  return 'connect';
}

/** A gRPC code's name in snake case (deadline_exceeded), as the Connect protocol spells it. */
const outcomeOf = (code: Code) => Code[code].replace(/[A-Z]/g, (c, i) => (i ? '_' : '') + c.toLowerCase());

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
      const seconds = (performance.now() - start) / 1000;
      metrics.request(protocol, method, outcome, seconds);
      log.info({ reqId, protocol, method, outcome, ms: Math.round(seconds * 1000) }, 'rpc');
    };
    const fail = (err: unknown): ConnectError => {
      const known = err instanceof ConnectError ? err : undefined;
      if (!known) log.error({ reqId, method, err }, 'internal error');
      const answer = known ?? new ConnectError(`internal error (request id ${reqId})`, Code.Internal);
      finish(outcomeOf(answer.code));
      return answer;
    };
    try {
      // Health checks stay open, as /healthz does: orchestrators' probes carry no keys.
      if (req.service.typeName !== Health.typeName && !keys.allows(req.header.get('authorization'), req.header.get('x-api-key'))) {
        metrics.reject('unauthenticated');
        throw new ConnectError(UNAUTHENTICATED_MESSAGE, Code.Unauthenticated);
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
