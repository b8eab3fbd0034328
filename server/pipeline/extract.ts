/**
 * The Extract implementation shared by every protocol: decode -> (worker) faces -> coordinates
 * back in original-image pixels -> generated protobuf messages. The legacy REST route and the
 * RPCs all call this; there is no second pipeline.
 */
import { create } from '@bufbuild/protobuf';
import sharp from 'sharp';
import {
  BoxSchema, ExtractResponseSchema, ExtractStreamResponseSchema, FaceQualitySchema, FaceSchema, ImageResultSchema, PointSchema,
  type ExtractRequest, type ExtractResponse, type ExtractStreamRequest, type ExtractStreamResponse,
  type Face, type ImageResult, Gender, ImageErrorCode, ImageErrorSchema,
} from '../../gen/facerest/v1/face_service_pb.js';
import type { RgbImage } from '../../models/inference/types.js';
import type { Limits } from '../config.js';
import { hiddenFailure, ServiceError } from '../errors.js';
import type { Logger } from 'pino';
import type { Metrics } from '../metrics.js';
import { NO_WORKER_MESSAGE, TaskTimeoutError, type WorkerPool } from '../pool/worker-pool.js';
import type { Admission, FifoBudget, Ticket } from './admission.js';
import { mapBounded, mapUnordered } from './concurrency.js';
import { ImageError, planDecode } from './decode.js';
import type { FoundFace } from '../worker/faces.js';
import { planImages, type ImagePlan, type OptionNames, type ServerCaps } from './options.js';
import { assessFace } from './quality.js';

const FACE_JPEG_QUALITY = 90;

/** What the Extractor needs besides the pool. */
export interface ExtractorDeps {
  limits: Limits;
  admission: Admission;
  metrics: Metrics;
  // Scheduling and resource budgets (issue 10).
  /** Decoded pixels in flight; an image waits here for room before it is decoded. */
  pixels: FifoBudget;
  /** Faces per image (0 = no cap) and worker time per image in ms (0 = none). */
  maxFaces: number;
  imageBudgetMs: number;
  /** Aborts when the server drains: streams read no more images and end with UNAVAILABLE. */
  draining: AbortSignal;
  /** Where internal failures are logged, under the call's request id. */
  log: Logger;
}

/**
 * One request or stream. Its images take turns with other calls' in the worker pool (the object
 * is the turn's key), its request id names it in log lines, and its signal aborts when the call
 * ends (deadline, cancel, disconnect); without one (in-process callers) it never does.
 */
export interface Call {
  reqId: string;
  signal?: AbortSignal;
}

/** A stream image that was read but not admitted before the drain: answered by the stream's end. */
const NOT_ADMITTED = Symbol('not admitted');

function jpeg(crop: RgbImage): Promise<Buffer> {
  return sharp(crop.data, { raw: { width: crop.width, height: crop.height, channels: 3 } })
    .jpeg({ quality: FACE_JPEG_QUALITY }).toBuffer();
}

/**
 * A Float32Array as the number[] that generated messages hold. Array.from copies a typed array
 * through V8's iterator protocol, an object per element: about 40 KB of garbage for a 512-d face
 * (measured with the sampling heap profiler under load), a quarter of what the main thread
 * allocated per gRPC call. An indexed copy allocates the array alone.
 */
export function toNumbers(v: Float32Array): number[] {
  const out = new Array<number>(v.length);
  for (let i = 0; i < v.length; i++) out[i] = v[i];
  return out;
}

/** The face in original-image pixels, with its quality; its crop's JPEG is added by the caller. */
function toFace(face: FoundFace, sx: number, sy: number, width: number, height: number, alignedInput: boolean): Face {
  const [x1, y1, x2, y2] = face.box;
  const points = Array.from(face.landmarks, (v, i) => v * (i % 2 ? sy : sx));
  const landmarks = [];
  for (let k = 0; k < 5; k++) landmarks.push(create(PointSchema, { x: points[2 * k], y: points[2 * k + 1] }));
  // An aligned input's landmarks are the template's: its pose is not known.
  const quality = assessFace(alignedInput ? undefined : points, Math.max((x2 - x1) * sx, (y2 - y1) * sy), face.pixels);
  return create(FaceSchema, {
    score: face.score,
    box: create(BoxSchema, {
      x1: Math.max(0, x1 * sx), y1: Math.max(0, y1 * sy),
      x2: Math.min(width, x2 * sx), y2: Math.min(height, y2 * sy),
    }),
    landmarks,
    embedding: face.embedding ? toNumbers(face.embedding) : [],
    age: face.attributes?.age,
    gender: face.attributes?.gender === 'male' ? Gender.MALE : face.attributes?.gender === 'female' ? Gender.FEMALE : undefined,
    quality: create(FaceQualitySchema, quality),
  });
}

/**
 * A face is embedded from pixels decoded closer to the original when it is less than this many
 * pixels across (the box's larger side) in the image shrunk to max_size: the aligned crop is
 * 112 px, and test/original-pixels.test.ts measured faces of 25 to 55 px after the shrink
 * losing up to 0.25 of cosine against the same face embedded at full size.
 */
export const ALIGN_MIN_FACE = 112;

/**
 * The faces found in the shrunk image (decodedWidth px wide, of an original originalWidth wide)
 * that are under ALIGN_MIN_FACE, and the max_size that brings the smallest of them to it, at
 * most the original size. Undefined when there is none or the image was not shrunk.
 */
export function smallFaces(faces: FoundFace[], decodedWidth: number, originalWidth: number,
  originalHeight = 0): { faces: FoundFace[]; maxSize: number } | undefined {
  if (decodedWidth >= originalWidth) return undefined;
  const side = (f: FoundFace) => Math.max(f.box[2] - f.box[0], f.box[3] - f.box[1], 1);
  const small = faces.filter((f) => side(f) < ALIGN_MIN_FACE);
  if (small.length === 0) return undefined;
  const grow = Math.min(originalWidth / decodedWidth, ALIGN_MIN_FACE / Math.min(...small.map(side)));
  const larger = Math.max(originalWidth, originalHeight);
  const maxSize = Math.min(larger, Math.ceil((larger * decodedWidth / originalWidth) * grow));
  return { faces: small, maxSize };
}

const failed = (code: ImageErrorCode, message: string): ImageResult =>
  create(ImageResultSchema, { error: create(ImageErrorSchema, { code, message }) });

export class Extractor {
  /** Images of one request or stream in flight at once: enough to keep every worker fed. */
  readonly window: number;

  private readonly caps: ServerCaps;

  constructor(private readonly pool: WorkerPool, private readonly deps: ExtractorDeps) {
    this.window = Math.max(2, pool.size * 4);
    this.caps = {
      maxFaces: deps.maxFaces, budgetMs: deps.imageBudgetMs, hasAttributes: pool.models.some((m) => m.role === 'attributes'),
    };
  }

  /** A request's options, validated: throws an 'invalid' ServiceError (names: the caller's spelling). */
  plan(options: ExtractRequest['options'], names?: OptionNames): ImagePlan {
    return planImages(options, this.caps, names);
  }

  /**
   * One image. A bad image, or a failure on it, is reported in `error`; only the call's end
   * (its signal) throws, with the signal's reason, and a server that cannot take work (no worker
   * alive, shutting down) throws an 'unavailable' ServiceError. The image waits for room in the
   * pixel budget before it is decoded.
   */
  async extractImage(data: Uint8Array, plan: ImagePlan, call: Call): Promise<ImageResult> {
    const { limits, metrics, pixels } = this.deps;
    const { signal } = call;
    let result: ImageResult;
    let releasePixels: (() => void) | undefined;
    try {
      signal?.throwIfAborted();
      if (data.length > limits.maxImageBytes) {
        throw new ImageError(ImageErrorCode.TOO_LARGE, `image of ${data.length} bytes exceeds the limit of ${limits.maxImageBytes} bytes`);
      }
      // The header is read here (limits, then room in the pixel budget); the worker decodes.
      // Aligned faces are decoded straight to the recognizer's 112x112 whatever max_size says.
      const first = await planDecode(data, plan.maxSize, limits.maxPixels, plan.alignedInput);
      releasePixels = await pixels.acquire(first.target.width * first.target.height, signal);
      const { width, height } = first;
      const query = plan.query(first.target.width / width);
      const found = await this.pool.run({ encoded: data, plan: first }, query, signal, call);
      const sx = width / found.width;
      const sy = height / found.height;
      if (!plan.alignedInput && (query.embed || query.returnCrops)) {
        const small = smallFaces(found.faces, found.width, width, height);
        if (small) {
          // The shrunk image is no longer needed: its pixels leave the budget before the larger
          // decode waits for room (never holding one share while waiting for another).
          releasePixels();
          releasePixels = undefined;
          const larger = await planDecode(data, small.maxSize, limits.maxPixels);
          releasePixels = await pixels.acquire(larger.target.width * larger.target.height, signal);
          // In the original's pixels: the worker brings them to the image it decodes.
          const alignAt = small.faces.map((f) => f.landmarks.map((v, i) => v * (i % 2 ? sy : sx)));
          const again = await this.pool.run({ encoded: data, plan: larger }, { ...query, attributes: false, alignAt }, signal, call);
          // Faces the time budget left out of the second pass keep what the first gave them.
          small.faces.forEach((f, i) => {
            f.embedding = again.faces[i]?.embedding ?? f.embedding;
            f.crop = again.faces[i]?.crop ?? f.crop;
            f.pixels = again.faces[i]?.pixels ?? f.pixels;
          });
        }
      }
      // Faces under min_quality are dropped before their crops are encoded.
      const kept = found.faces.map((f) => ({ f, face: toFace(f, sx, sy, width, height, plan.alignedInput) }))
        .filter(({ face }) => face.quality!.overall >= plan.minQuality);
      await Promise.all(kept.map(async ({ f, face }) => { if (f.crop) face.alignedFace = await jpeg(f.crop); }));
      result = create(ImageResultSchema, {
        width,
        height,
        faces: kept.map(({ face }) => face),
        facesTruncated: found.truncated,
      });
    } catch (err) {
      if (signal?.aborted) throw signal.reason;
      // No worker alive, or the server shutting down: the call fails with UNAVAILABLE (retry).
      if (err instanceof ServiceError) throw err;
      if (err instanceof ImageError) result = failed(err.code, err.message);
      else if (err instanceof TaskTimeoutError) result = failed(ImageErrorCode.PROCESSING_FAILED, err.message);
      else result = failed(ImageErrorCode.PROCESSING_FAILED, hiddenFailure(this.deps.log, call.reqId, 'processing', err));
    } finally {
      releasePixels?.();
    }
    metrics.image(!result.error, result.faces.length);
    return result;
  }

  /** While no inference worker is alive, calls fail at once instead of waiting. */
  private checkAlive(): void {
    if (!this.pool.alive) throw new ServiceError('unavailable', NO_WORKER_MESSAGE);
  }

  /**
   * Throws a ServiceError before any work: 'invalid' for bad options, 'limit' for too many
   * images, 'overloaded' when the server's queue is full, 'unavailable' while no worker is
   * alive or the server drains.
   */
  async extract(req: ExtractRequest, call: Call, names?: OptionNames): Promise<ExtractResponse> {
    const plan = this.plan(req.options, names);
    const { maxImages } = this.deps.limits;
    if (req.images.length > maxImages) {
      this.deps.metrics.reject('limit');
      throw new ServiceError('limit', `${req.images.length} images in one request exceeds the limit of ${maxImages}`);
    }
    this.checkAlive();
    let ticket: Ticket;
    try {
      ticket = this.deps.admission.admit(req.images.length);
    } catch (err) {
      if ((err as ServiceError).kind === 'overloaded') this.deps.metrics.reject('overloaded');
      throw err;
    }
    try {
      const results = await mapBounded(req.images, this.window, async (img) => {
        try {
          return await this.extractImage(img.data, plan, call);
        } finally {
          ticket.release();
        }
      });
      return create(ExtractResponseSchema, { results });
    } finally {
      ticket.releaseAll();
    }
  }

  /**
   * Answers each image as it is done. Images wait for room in the server's queue (the stream's
   * own window bounds what it holds, and streams together hold at most their share); the stream
   * ends with a 'limit' ServiceError after maxStreamImages, and with 'unavailable' when the
   * server drains, once the images it had admitted are answered. A message with invalid options
   * or no image is answered with its own error; the stream goes on.
   */
  extractStream(requests: AsyncIterable<ExtractStreamRequest>, call: Call): AsyncIterable<ExtractStreamResponse> {
    const { maxStreamImages } = this.deps.limits;
    const { admission, draining } = this.deps;
    let count = 0;
    // Waiting for room ends with the call; without a signal (in-process callers) it never does.
    const callEnded = call.signal ?? new AbortController().signal;
    const answers = mapUnordered(requests, this.window, async (req) => {
      if (++count > maxStreamImages) {
        this.deps.metrics.reject('limit');
        throw new ServiceError('limit', `more than ${maxStreamImages} images in one stream; open another stream`);
      }
      let plan: ImagePlan;
      try {
        plan = this.planMessage(req);
      } catch (err) {
        if (!(err instanceof ImageError)) throw err;
        this.deps.metrics.image(false, 0);
        return create(ExtractStreamResponseSchema, { id: req.id, result: failed(err.code, err.message) });
      }
      let ticket: Ticket;
      try {
        ticket = await admission.wait(callEnded);
      } catch (err) {
        // Read, but not admitted before the drain: the stream's UNAVAILABLE answers for it.
        if (draining.aborted && !callEnded.aborted) return NOT_ADMITTED;
        throw err;
      }
      try {
        return create(ExtractStreamResponseSchema, {
          id: req.id,
          result: await this.extractImage(req.image!.data, plan, call),
        });
      } finally {
        ticket.releaseAll();
      }
    }, draining);
    // Errors surface while iterating, where the RPC layer translates them, never from this call.
    const checkAlive = () => this.checkAlive();
    return (async function* () {
      checkAlive();
      for await (const answer of answers) if (answer !== NOT_ADMITTED) yield answer;
    })();
  }

  /** A stream message's plan; a message without an image or with invalid options fails alone. */
  private planMessage(req: ExtractStreamRequest): ImagePlan {
    if (!req.image) throw new ImageError(ImageErrorCode.INVALID_ARGUMENT, 'the message has no image');
    try {
      return this.plan(req.options);
    } catch (err) {
      if (err instanceof ServiceError) throw new ImageError(ImageErrorCode.INVALID_ARGUMENT, err.message);
      throw err;
    }
  }
}
