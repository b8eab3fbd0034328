/**
 * grpc.health.v1.Health: SERVING once the models are loaded, NOT_SERVING while no inference
 * worker is alive, and for good once the server drains (Watch streams then end, so that they do
 * not hold the drain open).
 */
import { create } from '@bufbuild/protobuf';
import { Code, ConnectError, type ConnectRouter } from '@connectrpc/connect';
import { EventEmitter, on } from 'node:events';
import {
  Health, HealthCheckResponse_ServingStatus as Status, HealthCheckResponseSchema,
} from '../../gen/grpc/health/v1/health_pb.js';
import { FaceService } from '../../gen/facerest/v1/face_service_pb.js';

/** Services a health check may name: "" means the whole server. */
const KNOWN = new Set(['', FaceService.typeName]);

/** A status change; `final` once the server shuts down (nothing follows it). */
interface Change {
  status: Status;
  final: boolean;
}

export class HealthState {
  private status = Status.NOT_SERVING;
  private final = false;
  private readonly changes = new EventEmitter();

  get serving(): boolean {
    return this.status === Status.SERVING;
  }

  /** Ignored after shutdown(). */
  set(serving: boolean): void {
    if (this.final) return;
    const next = serving ? Status.SERVING : Status.NOT_SERVING;
    if (next === this.status) return;
    this.status = next;
    this.changes.emit('change', { status: next, final: false } satisfies Change);
  }

  /** NOT_SERVING for good: watchers are told (if they were not already) and their streams end. */
  shutdown(): void {
    if (this.final) return;
    this.final = true;
    this.status = Status.NOT_SERVING;
    this.changes.emit('change', { status: Status.NOT_SERVING, final: true } satisfies Change);
  }

  current(): Status {
    return this.status;
  }

  /** The current status, then every change, until `signal` aborts or the server shuts down. */
  async *watch(signal: AbortSignal): AsyncGenerator<Status> {
    let last = this.status;
    yield last;
    if (this.final) return;
    for await (const [change] of on(this.changes, 'change', { signal }) as AsyncIterable<[Change]>) {
      if (change.status !== last) yield last = change.status;
      if (change.final) return;
    }
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
