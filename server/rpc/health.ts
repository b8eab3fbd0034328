/** grpc.health.v1.Health: SERVING once the models are loaded, NOT_SERVING while draining. */
import { create } from '@bufbuild/protobuf';
import { Code, ConnectError, type ConnectRouter } from '@connectrpc/connect';
import { EventEmitter, on } from 'node:events';
import {
  Health, HealthCheckResponse_ServingStatus as Status, HealthCheckResponseSchema,
} from '../../gen/grpc/health/v1/health_pb.js';
import { FaceService } from '../../gen/facerest/v1/face_service_pb.js';

/** Services a health check may name: "" means the whole server. */
const KNOWN = new Set(['', FaceService.typeName]);

export class HealthState {
  private status = Status.NOT_SERVING;
  private readonly changes = new EventEmitter();

  get serving(): boolean {
    return this.status === Status.SERVING;
  }

  set(serving: boolean): void {
    const next = serving ? Status.SERVING : Status.NOT_SERVING;
    if (next === this.status) return;
    this.status = next;
    this.changes.emit('change', next);
  }

  current(): Status {
    return this.status;
  }

  /** The current status, then every change until `signal` aborts. */
  async *watch(signal: AbortSignal): AsyncGenerator<Status> {
    yield this.status;
    for await (const [status] of on(this.changes, 'change', { signal })) yield status as Status;
  }
}

export function healthRoutes(state: HealthState) {
  const check = (service: string) => {
    if (!KNOWN.has(service)) throw new ConnectError(`unknown service ${service}`, Code.NotFound);
  };
  return (router: ConnectRouter) => router.service(Health, {
    check(req) {
      check(req.service);
      return create(HealthCheckResponseSchema, { status: state.current() });
    },
    async *watch(req, ctx) {
      if (!KNOWN.has(req.service)) {
        yield create(HealthCheckResponseSchema, { status: Status.SERVICE_UNKNOWN });
        return;
      }
      try {
        for await (const status of state.watch(ctx.signal)) yield create(HealthCheckResponseSchema, { status });
      } catch (err) {
        if (!ctx.signal.aborted) throw err;
      }
    },
  });
}
