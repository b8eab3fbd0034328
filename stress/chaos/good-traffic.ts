/**
 * The good clients of the chaos suite: a steady trickle of real photos over gRPC (@grpc/grpc-js),
 * Connect (HTTP/1.1) and gRPC-Web (HTTP/2) through Connect's Node transports, and POST /extract,
 * one request at a time per protocol. Every answer is checked against what a quiet server
 * answered for the same photo: the same number of faces, and each face's embedding within
 * cosine 0.999 of one of the quiet answer's. The runner runs them in a thread of their own
 * (good-clients.ts).
 */
import { cosine } from '../../clients/similarity.js';
import { Code, ConnectError, createClient } from '@connectrpc/connect';
import { createConnectTransport, createGrpcWebTransport, Http2SessionManager } from '@connectrpc/connect-node';
import * as grpc from '@grpc/grpc-js';
import { FaceGrpcClient } from '../../clients/node/grpc-client.js';
import { FaceService } from '../../gen/facerest/v1/face_service_pb.js';
import { BBT, readFace } from '../../test/helpers/data.js';
import type { GoodTally } from './types.js';

export interface Photo {
  name: string;
  data: Buffer;
}

/** What a quiet server answers for a photo: one embedding per face. */
export type Reference = number[][];

const MAX_SIZE = 640;
/** Same photo, same models, same settings: the bar for "the same answer". */
const MIN_COSINE = 0.999;

/** The five group photos (4, 3, 5, 6, 5 faces) and two portraits of ../shared/faces. */
export function goodPhotos(): Photo[] {
  return [...BBT, 'deepface/img2.jpg', 'deepface/img3.jpg'].map((name) => ({ name, data: readFace(name) }));
}


/** Why `embeddings` is not the reference's answer, or undefined when it is. */
export function mismatch(reference: Reference, embeddings: number[][]): string | undefined {
  if (embeddings.length !== reference.length) return `${embeddings.length} faces, quiet server found ${reference.length}`;
  for (const [i, e] of embeddings.entries()) {
    const best = Math.max(...reference.map((r) => (r.length === e.length ? cosine(r, e) : -1)));
    if (!(best > MIN_COSINE)) return `face ${i}: best cosine ${best.toFixed(4)} with the quiet answer`;
  }
  return undefined;
}

/** The quiet server's answers, over gRPC, before any attack. */
export async function quietReferences(address: string, photos: Photo[], auth: Record<string, string>): Promise<Map<string, Reference>> {
  const client = new FaceGrpcClient(address);
  try {
    const refs = new Map<string, Reference>();
    for (const p of photos) {
      const res = await client.extract({ images: [{ data: p.data }], options: { maxSize: MAX_SIZE } }, { metadata: auth, deadline: 60_000 });
      const r = res.results[0];
      if (r.error || r.faces.length === 0) throw new Error(`quiet server: ${p.name}: ${r.error?.message ?? 'no faces'}`);
      refs.set(p.name, r.faces.map((f) => f.embedding));
    }
    return refs;
  } finally {
    client.close();
  }
}

type Outcome = { kind: 'answer'; embeddings: number[][] } | { kind: 'refused' } | { kind: 'failed'; why: string };
type Lane = (photo: Photo) => Promise<Outcome>;

export interface GoodTrafficOptions {
  baseUrl: string;
  address: string;
  auth: Record<string, string>;
  /** Pause between one protocol's requests. */
  pauseMs: number;
  /** A good request not answered in this time has failed (a starved client). */
  deadlineMs: number;
}

/** What a correct answer took, ms, as it comes. */
export type OnCorrect = (ms: number) => void;

const RETRY_CODES = new Set([Code.ResourceExhausted, Code.Unavailable]);

/** Runs the four lanes from start() until stop(); stop() waits for requests in flight. */
export class GoodTraffic {
  private running = false;
  private lanes: Promise<void>[] = [];
  private readonly closers: (() => void)[] = [];
  readonly tally: GoodTally = { sent: 0, correct: 0, refused: 0, failures: [], byProtocol: {}, latencyMs: { p50: 0, max: 0 } };
  private wake?: () => void;
  /** Times to correct answers, ms. */
  readonly latencies: number[] = [];

  constructor(private readonly o: GoodTrafficOptions, private readonly photos: Photo[], private readonly refs: Map<string, Reference>,
    private readonly onCorrect: OnCorrect = () => undefined) {}

  start(): void {
    this.running = true;
    const lanes: [string, Lane][] = [
      ['gRPC', this.grpcLane()],
      ['Connect/1.1', this.connectLane()],
      ['gRPC-Web/2', this.grpcWebLane()],
      ['REST', this.restLane()],
    ];
    this.lanes = lanes.map(([label, lane], k) => this.loop(label, lane, k));
  }

  async stop(): Promise<GoodTally> {
    this.running = false;
    this.wake?.();
    await Promise.all(this.lanes);
    for (const close of this.closers) close();
    const sorted = [...this.latencies].sort((a, b) => a - b);
    this.tally.latencyMs = { p50: Math.round(sorted[sorted.length >> 1] ?? 0), max: Math.round(sorted.at(-1) ?? 0) };
    return this.tally;
  }

  private async loop(label: string, lane: Lane, offset: number): Promise<void> {
    const mine = (this.tally.byProtocol[label] = { sent: 0, correct: 0 });
    for (let i = offset; this.running; i++) {
      const photo = this.photos[i % this.photos.length];
      this.tally.sent++;
      mine.sent++;
      const start = performance.now();
      let outcome: Outcome;
      try {
        outcome = await lane(photo);
      } catch (err) {
        outcome = { kind: 'failed', why: (err as Error).message };
      }
      if (outcome.kind === 'answer') {
        const why = mismatch(this.refs.get(photo.name)!, outcome.embeddings);
        if (why === undefined) {
          this.tally.correct++;
          mine.correct++;
          const ms = performance.now() - start;
          this.latencies.push(ms);
          this.onCorrect(ms);
        } else {
          this.fail(`${label} ${photo.name}: ${why}`);
        }
      } else if (outcome.kind === 'refused') {
        this.tally.refused++;
        this.fail(`${label} ${photo.name}: refused (retry hint)`);
      } else {
        this.fail(`${label} ${photo.name}: ${outcome.why}`);
      }
      if (this.running) await new Promise<void>((r) => { this.wake = r; setTimeout(r, this.o.pauseMs); });
    }
  }

  private fail(why: string): void {
    if (this.tally.failures.length < 10) this.tally.failures.push(why.slice(0, 200));
  }

  private grpcLane(): Lane {
    const client = new FaceGrpcClient(this.o.address);
    this.closers.push(() => client.close());
    return async (photo) => {
      try {
        const res = await client.extract({ images: [{ data: photo.data }], options: { maxSize: MAX_SIZE } },
          { metadata: this.o.auth, deadline: this.o.deadlineMs });
        const r = res.results[0];
        if (r.error) return { kind: 'failed', why: `image error: ${r.error.message}` };
        return { kind: 'answer', embeddings: r.faces.map((f) => f.embedding) };
      } catch (err) {
        const e = err as grpc.ServiceError;
        const retry = e.metadata?.get('retry-after').length > 0;
        if ((e.code === grpc.status.RESOURCE_EXHAUSTED || e.code === grpc.status.UNAVAILABLE) && retry) return { kind: 'refused' };
        return { kind: 'failed', why: `${grpc.status[e.code] ?? e.code}: ${e.details ?? e.message}` };
      }
    };
  }

  private connectLane(): Lane {
    return this.connectFamily(createConnectTransport({ baseUrl: this.o.baseUrl, httpVersion: '1.1' }));
  }

  private grpcWebLane(): Lane {
    const sessions = new Http2SessionManager(this.o.baseUrl);
    this.closers.push(() => sessions.abort());
    return this.connectFamily(createGrpcWebTransport({ baseUrl: this.o.baseUrl, httpVersion: '2', sessionManager: sessions }));
  }

  private connectFamily(transport: ReturnType<typeof createConnectTransport>): Lane {
    const client = createClient(FaceService, transport);
    return async (photo) => {
      try {
        const res = await client.extract({ images: [{ data: photo.data }], options: { maxSize: MAX_SIZE } },
          { headers: this.o.auth, timeoutMs: this.o.deadlineMs });
        const r = res.results[0];
        if (r.error) return { kind: 'failed', why: `image error: ${r.error.message}` };
        return { kind: 'answer', embeddings: r.faces.map((f) => f.embedding) };
      } catch (err) {
        const e = ConnectError.from(err);
        if (RETRY_CODES.has(e.code) && e.metadata.get('retry-after')) return { kind: 'refused' };
        // REFUSED_STREAM: HTTP/2's own "not processed, retry" (the server's stream caps).
        if (/REFUSED_STREAM/.test(e.rawMessage)) return { kind: 'refused' };
        return { kind: 'failed', why: `${Code[e.code]}: ${e.rawMessage}` };
      }
    };
  }

  private restLane(): Lane {
    return async (photo) => {
      const res = await fetch(`${this.o.baseUrl}/extract`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...this.o.auth },
        body: JSON.stringify({ images: { data: [photo.data.toString('base64')] }, max_size: MAX_SIZE }),
        signal: AbortSignal.timeout(this.o.deadlineMs),
      });
      const text = await res.text();
      if ((res.status === 429 || res.status === 503) && res.headers.get('retry-after')) return { kind: 'refused' };
      if (res.status !== 200) return { kind: 'failed', why: `HTTP ${res.status}: ${text.slice(0, 100)}` };
      const faces = (JSON.parse(text) as { vec: number[] }[][])[0];
      return { kind: 'answer', embeddings: faces.map((f) => f.vec) };
    };
  }
}
