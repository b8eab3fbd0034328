/**
 * The facerest client for Node: one API over gRPC, Connect or gRPC-Web, built on Connect's Node
 * transports and the generated types.
 *
 *   const faces = createFaceClient({ baseUrl: 'http://localhost:18080', protocol: 'grpc' });
 *   const [result] = await faces.extract([readFileSync('a.jpg')], { maxSize: 640 });
 *   const files = ['a.jpg', 'b.jpg'].map((f) => ({ id: f, data: readFileSync(f) }));
 *   for await (const { id, result } of faces.extractAll(files)) console.log(id, result.faces.length);
 */
import { create, type MessageInitShape } from '@bufbuild/protobuf';
import { createClient, type Client, type Transport } from '@connectrpc/connect';
import {
  createConnectTransport, createGrpcTransport, createGrpcWebTransport, Http2SessionManager,
} from '@connectrpc/connect-node';
import {
  ExtractOptionsSchema, ExtractRequestSchema, ExtractStreamRequestSchema, FaceService,
  type ImageResult, type InfoResponse,
} from '../../gen/facerest/v1/face_service_pb.js';

export type Protocol = 'grpc' | 'connect' | 'grpc-web';

export interface FaceClientOptions {
  /** The server's URL, e.g. http://localhost:18080 (https:// for TLS). */
  baseUrl: string;
  /** Wire protocol; default 'grpc'. */
  protocol?: Protocol;
  /**
   * HTTP version; default '2', which every protocol needs for extractAll (bidirectional
   * streaming). '1.1' serves unary calls through proxies that only speak HTTP/1.1.
   */
  httpVersion?: '1.1' | '2';
  /** Sent with every call (e.g. authorization). */
  headers?: Record<string, string>;
  /** Default per-call timeout in milliseconds; none by default. */
  timeoutMs?: number;
}

/** Per-request options: the contract's ExtractOptions (maxSize, detectionThreshold, ...). */
export type ExtractOptions = Omit<MessageInitShape<typeof ExtractOptionsSchema>, '$typeName'>;

export interface CallOptions {
  signal?: AbortSignal;
  timeoutMs?: number;
}

/** An image for extractAll: bytes, or bytes with an id that comes back with its result. */
export type StreamImage = Uint8Array | { id?: string; data: Uint8Array };

export interface StreamResult {
  /** The image's id, or its position in the source ("0", "1", ...) when it had none. */
  id: string;
  result: ImageResult;
}

export interface ExtractAllOptions extends ExtractOptions, CallOptions {
  /**
   * Images sent but not yet answered; the source is read no further ahead than this. Default 16:
   * at least the server's own per-stream window (max(2, 4 x its workers)) on machines of up to
   * four workers, so the server is never left waiting for this client.
   */
  maxInFlight?: number;
}

export interface FaceClient {
  /** One result per image, in order; an image that fails has `error` (code and message) and no faces. */
  extract(images: Uint8Array[], options?: ExtractOptions & CallOptions): Promise<ImageResult[]>;
  info(options?: CallOptions): Promise<InfoResponse>;
  /** Streams any (async) iterable of images through ExtractStream; yields results as they come. */
  extractAll(source: Iterable<StreamImage> | AsyncIterable<StreamImage>, options?: ExtractAllOptions): AsyncGenerator<StreamResult>;
  /** Closes the connection (pending calls fail). */
  close(): void;
}

/** The transport, over one HTTP/2 connection we own (so close() can end it), or HTTP/1.1. */
function transportFor(o: FaceClientOptions, sessions: Http2SessionManager): Transport {
  const protocol = o.protocol ?? 'grpc';
  const http1 = o.httpVersion === '1.1' && protocol !== 'grpc';
  const common = http1
    ? { baseUrl: o.baseUrl, httpVersion: '1.1' as const }
    : { baseUrl: o.baseUrl, httpVersion: '2' as const, sessionManager: sessions };
  switch (protocol) {
    case 'grpc': return createGrpcTransport({ baseUrl: o.baseUrl, sessionManager: sessions });
    case 'connect': return createConnectTransport(common);
    case 'grpc-web': return createGrpcWebTransport(common);
    default: throw new Error(`unknown protocol '${String(protocol)}': use grpc, connect or grpc-web`);
  }
}

/** Resolves waiters one at a time as slots free up: a counting semaphore for in-flight images. */
class Window {
  private used = 0;
  private readonly waiting: (() => void)[] = [];
  constructor(private readonly size: number) {}

  async acquire(signal: AbortSignal): Promise<void> {
    while (this.used >= this.size) {
      if (signal.aborted) throw signal.reason;
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    }
    this.used++;
  }

  release(): void {
    this.used--;
    this.waiting.shift()?.();
  }

  /** Wakes every waiter (they see the abort and stop). */
  wakeAll(): void {
    for (const w of this.waiting.splice(0)) w();
  }
}

export function createFaceClient(options: FaceClientOptions): FaceClient {
  // Node counts the bytes a stream has written and not yet sent as session memory, and refuses
  // response headers (RST_STREAM ENHANCE_YOUR_CALM) while that is over maxSessionMemory (10 MB by
  // default): concurrent uploads of a few photos on one connection crossed it, and calls failed
  // with INTERNAL (20 extractAll calls of 5 photos: 3 to 8 failed; a 65 MB message never saw its
  // RESOURCE_EXHAUSTED). The queued bytes are this client's own images, so the limit protects
  // nothing here; like grpc-js, switch it off.
  const sessions = new Http2SessionManager(options.baseUrl, undefined, { maxSessionMemory: Number.MAX_SAFE_INTEGER });
  const client: Client<typeof FaceService> = createClient(FaceService, transportFor(options, sessions));
  const abortAll = new AbortController();
  const callOptions = (o: CallOptions = {}) => ({
    headers: options.headers,
    timeoutMs: o.timeoutMs ?? options.timeoutMs,
    signal: o.signal ? AbortSignal.any([o.signal, abortAll.signal]) : abortAll.signal,
  });

  return {
    async extract(images, o = {}) {
      const { signal, timeoutMs, ...fields } = o;
      const req = create(ExtractRequestSchema, { options: fields, images: images.map((data) => ({ data })) });
      const res = await client.extract(req, callOptions({ signal, timeoutMs }));
      return res.results;
    },

    info(o) {
      return client.info({}, callOptions(o));
    },

    async *extractAll(source, o = {}) {
      const { signal, timeoutMs, maxInFlight = 16, ...fields } = o;
      const window = new Window(maxInFlight);
      const stop = new AbortController();
      const call = callOptions({ signal: signal ? AbortSignal.any([signal, stop.signal]) : stop.signal, timeoutMs });
      async function* requests() {
        let position = 0;
        for await (const item of source) {
          await window.acquire(call.signal);
          const { id, data } = item instanceof Uint8Array ? { id: undefined, data: item } : item;
          yield create(ExtractStreamRequestSchema, { options: fields, id: id ?? String(position), image: { data } });
          position++;
        }
      }
      try {
        for await (const res of client.extractStream(requests(), call)) {
          window.release();
          yield { id: res.id, result: res.result! };
        }
      } finally {
        // The consumer stopped early or the call failed: end the call and the source's reader.
        stop.abort();
        window.wakeAll();
      }
    },

    close() {
      abortAll.abort(new Error('client closed'));
      sessions.abort();
    },
  };
}
