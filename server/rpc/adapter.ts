/**
 * Connect on Node's HTTP servers (gRPC, gRPC-Web and Connect), as connectNodeAdapter does it,
 * plus two things it cannot do. Refusals that the headers decide (no API key, a declared body
 * over the limit, a unary Extract while the queue has no room) are answered before a byte of
 * the body is read; before, Connect read, decompressed and decoded up to the 64 MB body limit
 * before its interceptors saw the key. And every body is checked on its way into Connect
 * (body-guard.ts), so that decoding it costs no more than the limits allow. Built from
 * connect-node's public pieces (createConnectRouter, universalRequestFromNodeRequest,
 * universalResponseToNodeResponse); nothing of Connect is patched. Plain unary gRPC calls of the
 * methods named `direct` are served beside Connect, past the same gate (grpc-direct.ts).
 */
import {
  createConnectRouter, createContextValues, type ConnectRouter, type ConnectRouterOptions,
} from '@connectrpc/connect';
import {
  compressionBrotli, compressionGzip, universalRequestFromNodeRequest, universalResponseToNodeResponse,
} from '@connectrpc/connect-node';
import { Http2ServerResponse, type Http2ServerRequest } from 'node:http2';
import type { Logger } from 'pino';
import { FaceService } from '../../gen/facerest/v1/face_service_pb.js';
import { Health } from '../../gen/grpc/health/v1/health_pb.js';
import type { Limits } from '../config.js';
import { codeName, type ServiceError } from '../errors.js';
import type { ApiKeys } from '../http/auth.js';
import type { Route } from '../http/listener.js';
import { answered } from '../http/exchange.js';
import { declaredTooLarge, missingKey } from '../http/preflight.js';
import type { Metrics } from '../metrics.js';
import type { Admission } from '../pipeline/admission.js';
import { guardBody } from './body-guard.js';
import { directCall, serveDirect, type DirectMethod } from './grpc-direct.js';
import { countRefusal, protocolOf, recordRpc, requestEnded, RPC_CALL, type RpcCall } from './interceptor.js';
import { sendRpcRefusal } from './refusal.js';

export interface RpcGate {
  keys: ApiKeys;
  admission: Admission;
  limits: Limits;
  metrics: Metrics;
  log: Logger;
}

export interface RpcOptions extends ConnectRouterOptions {
  routes: (router: ConnectRouter) => void;
  /** Unary methods whose plain gRPC calls skip Connect (grpc-direct.ts); their routes stay for every other call. */
  direct?: DirectMethod[];
}

export function rpcAdapter(options: RpcOptions, gate: RpcGate): Route {
  const router = createConnectRouter({ acceptCompression: [compressionGzip, compressionBrotli], ...options });
  options.routes(router);
  const handlers = new Map(router.handlers.map((h) => [h.requestPath, h]));
  const directs = new Map((options.direct ?? []).map((d) => [`/${d.method.parent.typeName}/${d.method.name}`, d]));
  const { keys, admission, limits, metrics, log } = gate;

  return (req, res, reqId) => {
    const handler = handlers.get((req.url ?? '').split('?')[0]);
    if (!handler) {
      res.writeHead(404);
      res.end();
      return;
    }
    const call: RpcCall = {
      reqId, protocol: protocolOf(req.headers['content-type']), method: handler.method.name, started: performance.now(),
    };
    // One log line and the metrics per call, once its answer is out (or the client gone).
    res.once('close', () => recordRpc(gate, call, answered(res)));
    const unary = handler.method.methodKind === 'unary';
    const refused = (err: ServiceError) => {
      countRefusal(metrics, err);
      call.outcome ??= codeName(err.answer.code);
    };

    // Health checks stay open, as /healthz does: orchestrators' probes carry no keys.
    const early = (handler.service.typeName === Health.typeName ? undefined : missingKey(keys, req.headers))
      ?? declaredTooLarge(req.headers, limits.maxBodyBytes)
      ?? (handler.method === FaceService.method.extract ? admission.refusal() : undefined);
    if (early) {
      refused(early);
      sendRpcRefusal(req, res, early);
      return;
    }

    const viaConnect = (
      // The body is read here rather than through Connect's reader, which destroys the request
      // when it stops early: a refusal must leave the connection able to carry its answer.
      source = req.iterator({ destroyOnReturn: false }) as AsyncIterable<Uint8Array>,
    ) => {
      const uReq = universalRequestFromNodeRequest(req, res, undefined, undefined);
      // A stream's refusal reaches the interceptor as the stream's error and its outcome is set
      // there; a unary message is decoded before the interceptor runs, so it is set here.
      const body = guardBody(source, uReq.header, handler.method.input, limits,
        (err) => (unary ? refused(err) : countRefusal(metrics, err)));
      handler({ ...uReq, body, contextValues: createContextValues().set(RPC_CALL, call) })
        .then((uRes) => universalResponseToNodeResponse(uRes, res))
        .catch((reason: unknown) => failed(reason, uReq.signal));
    };
    const failed = (reason: unknown, signal?: AbortSignal) => {
      if (res.destroyed || requestEnded(reason, signal)) {
        log.debug({ reqId, method: handler.method.name, err: reason }, 'client went away');
      } else {
        log.error({ reqId, method: handler.method.name, err: reason }, 'internal error');
      }
    };

    const direct = directs.get(handler.requestPath);
    const directly = direct && res instanceof Http2ServerResponse ? directCall(req as Http2ServerRequest) : undefined;
    if (direct && directly) {
      serveDirect(direct, req as Http2ServerRequest, res as Http2ServerResponse, directly, call, { limits, log }, viaConnect)
        .catch((reason: unknown) => failed(reason));
    } else {
      viaConnect();
    }
  };
}
