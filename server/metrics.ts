/** Prometheus metrics (prom-client), served at GET /metrics. */
import client from 'prom-client';
import type { Decoder } from './pipeline/turbojpeg.js';

export type Protocol = 'grpc' | 'grpc-web' | 'connect' | 'rest';

/** Model time of one task in a worker, by model role, in seconds; and the whole task's time. */
export interface TaskTiming {
  busySeconds: number;
  models: Record<string, number>;
  /** CPU seconds of the worker's thread inside ONNX Runtime since its last report, by label (issue 14). */
  onnxCpu?: Record<string, number>;
  /** Who decoded the task's image, where the worker decoded it. */
  decoder?: Decoder;
}

export class Metrics {
  readonly registry = new client.Registry();
  private readonly requests = new client.Counter({
    name: 'facerest_requests_total',
    help: 'Requests by protocol, method and outcome (a gRPC code name, or ok)',
    labelNames: ['protocol', 'method', 'outcome'] as const,
    registers: [this.registry],
  });
  private readonly latency = new client.Histogram({
    name: 'facerest_request_duration_seconds',
    help: 'Request latency by protocol and method',
    labelNames: ['protocol', 'method'] as const,
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });
  private readonly images = new client.Counter({
    name: 'facerest_images_total',
    help: 'Images processed, by outcome (ok, or error for images that could not be processed)',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });
  private readonly faces = new client.Counter({
    name: 'facerest_faces_total', help: 'Faces found', registers: [this.registry],
  });
  private readonly rejected = new client.Counter({
    name: 'facerest_rejected_total',
    help: 'Requests refused before any work, by reason (overloaded, limit, unauthenticated)',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  private readonly busy = new client.Counter({
    name: 'facerest_worker_busy_seconds_total', help: 'Time the inference workers spent on images', registers: [this.registry],
  });
  private readonly inference = new client.Histogram({
    name: 'facerest_model_seconds',
    help: 'Time per image in each model role (pre- and post-processing and ONNX Runtime)',
    labelNames: ['role'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    registers: [this.registry],
  });
  // Issue 14: CPU, not wall-clock, inside ONNX Runtime.
  private readonly onnxCpu = new client.Counter({
    name: 'facerest_onnx_cpu_seconds_total',
    help: 'CPU time of the inference workers inside ONNX Runtime runs, by model role (preprocess: the input graphs)',
    labelNames: ['role'] as const,
    registers: [this.registry],
  });
  private readonly decodes = new client.Counter({
    name: 'facerest_decodes_total',
    help: 'Images decoded by the inference workers, by decoder (libjpeg-turbo: plain JPEGs; sharp: the rest)',
    labelNames: ['decoder'] as const,
    registers: [this.registry],
  });

  constructor(queueDepth: () => number, poolQueued: () => number) {
    client.collectDefaultMetrics({ register: this.registry, prefix: 'facerest_' });
    new client.Gauge({
      name: 'facerest_queue_depth',
      help: 'Images admitted and not yet answered',
      registers: [this.registry],
      collect() { this.set(queueDepth()); },
    });
    new client.Gauge({
      name: 'facerest_pool_queued',
      help: 'Images waiting for an inference worker',
      registers: [this.registry],
      collect() { this.set(poolQueued()); },
    });
  }

  request(protocol: Protocol, method: string, outcome: string, seconds: number): void {
    this.requests.inc({ protocol, method, outcome });
    this.latency.observe({ protocol, method }, seconds);
  }

  image(ok: boolean, faces: number): void {
    this.images.inc({ outcome: ok ? 'ok' : 'error' });
    if (faces > 0) this.faces.inc(faces);
  }

  reject(reason: 'overloaded' | 'limit' | 'unauthenticated'): void {
    this.rejected.inc({ reason });
  }

  task(t: TaskTiming): void {
    this.busy.inc(t.busySeconds);
    for (const [role, seconds] of Object.entries(t.models)) this.inference.observe({ role }, seconds);
    for (const [role, seconds] of Object.entries(t.onnxCpu ?? {})) this.onnxCpu.inc({ role }, seconds);
    if (t.decoder) this.decodes.inc({ decoder: t.decoder });
  }
}
