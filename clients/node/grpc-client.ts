/**
 * A typed facerest client for backend services on @grpc/grpc-js. Messages are the generated
 * protobuf-es types, serialised with @bufbuild/protobuf: no second code generator.
 */
import { create, fromBinary, toBinary, type DescMessage, type MessageInitShape, type MessageShape } from '@bufbuild/protobuf';
import type { DescMethod } from '@bufbuild/protobuf';
import * as grpc from '@grpc/grpc-js';
import { once } from 'node:events';
import {
  ExtractRequestSchema, FaceService, InfoRequestSchema, ExtractStreamRequestSchema, type VerifyRequestSchema,
  type ExtractResponse, type ExtractStreamResponse, type InfoResponse, type VerifyResponse,
} from '../../gen/facerest/v1/face_service_pb.js';

export interface CallOptions {
  /** Absolute deadline, or milliseconds from now. */
  deadline?: Date | number;
  metadata?: Record<string, string>;
}

/**
 * grpc-js undoes the percent-encoding of grpc-message with decodeURI, which leaves reserved
 * characters such as ':' and '/' encoded; finish the job so error messages read as sent.
 */
function readableError(err: grpc.ServiceError): grpc.ServiceError {
  try {
    const details = decodeURIComponent(err.details);
    err.message = err.message.replace(err.details, details);
    err.details = details;
  } catch { /* not percent-encoded: leave as is */ }
  return err;
}

function pathOf(method: DescMethod): string {
  return `/${method.parent.typeName}/${method.name}`;
}

function codec<D extends DescMessage>(schema: D) {
  return {
    serialize: (m: MessageShape<D>) => Buffer.from(toBinary(schema, m)),
    deserialize: (b: Buffer) => fromBinary(schema, b),
  };
}

export class FaceGrpcClient {
  private readonly client: grpc.Client;

  /** `address` is host:port; plaintext HTTP/2 unless other credentials are given. */
  constructor(address: string, credentials: grpc.ChannelCredentials = grpc.credentials.createInsecure(),
    options: grpc.ClientOptions = {}) {
    this.client = new grpc.Client(address, credentials, {
      'grpc.max_receive_message_length': 256 << 20,
      'grpc.max_send_message_length': 256 << 20,
      ...options,
    });
  }

  /**
   * Any unary call of facerest's services by its generated descriptor, e.g.
   * `call(GalleryService.method.enroll, { collection, subject, images })`.
   */
  call<I extends DescMessage, O extends DescMessage>(method: DescMethod & { input: I; output: O }, req: MessageInitShape<I>,
    options: CallOptions = {}): Promise<MessageShape<O>> {
    return this.unary(method, create(method.input, req), options);
  }

  verify(req: MessageInitShape<typeof VerifyRequestSchema>, options: CallOptions = {}): Promise<VerifyResponse> {
    return this.call(FaceService.method.verify, req, options);
  }

  extract(req: MessageInitShape<typeof ExtractRequestSchema>, options: CallOptions = {}): Promise<ExtractResponse> {
    return this.unary(FaceService.method.extract, create(ExtractRequestSchema, req), options);
  }

  info(options: CallOptions = {}): Promise<InfoResponse> {
    return this.unary(FaceService.method.info, create(InfoRequestSchema), options);
  }

  /**
   * Streams requests through ExtractStream and yields responses as the server answers them.
   * Writing waits for the transport (backpressure), so a large source is never read ahead.
   */
  async *extractStream(
    requests: Iterable<MessageInitShape<typeof ExtractStreamRequestSchema>>
      | AsyncIterable<MessageInitShape<typeof ExtractStreamRequestSchema>>,
    options: CallOptions = {},
  ): AsyncGenerator<ExtractStreamResponse> {
    const method = FaceService.method.extractStream;
    const req = codec(method.input);
    const res = codec(method.output);
    const call = this.client.makeBidiStreamRequest(pathOf(method), req.serialize, res.deserialize,
      this.metadata(options), this.callOptions(options));
    const writing = (async () => {
      try {
        for await (const r of requests) {
          if (!call.write(create(ExtractStreamRequestSchema, r))) await once(call, 'drain');
        }
        call.end();
      } catch (err) {
        call.cancel();
        throw err;
      }
    })();
    // The writer's failure surfaces through the read loop (the call is cancelled) or here.
    writing.catch(() => undefined);
    try {
      for await (const msg of call) yield msg as ExtractStreamResponse;
      await writing;
    } catch (err) {
      throw (err as grpc.ServiceError).code !== undefined ? readableError(err as grpc.ServiceError) : err;
    } finally {
      call.cancel();
    }
  }

  close(): void {
    this.client.close();
  }

  private unary<I extends DescMessage, O extends DescMessage>(
    method: DescMethod & { input: I; output: O }, message: MessageShape<I>, options: CallOptions,
  ): Promise<MessageShape<O>> {
    const req = codec(method.input);
    const res = codec(method.output);
    return new Promise((resolve, reject) => {
      this.client.makeUnaryRequest(pathOf(method), req.serialize, res.deserialize, message,
        this.metadata(options), this.callOptions(options),
        (err: grpc.ServiceError | null, value?: MessageShape<O>) => (err ? reject(readableError(err)) : resolve(value!)));
    });
  }

  private metadata(options: CallOptions): grpc.Metadata {
    const md = new grpc.Metadata();
    for (const [k, v] of Object.entries(options.metadata ?? {})) md.set(k, v);
    return md;
  }

  private callOptions(options: CallOptions): grpc.CallOptions {
    const { deadline } = options;
    return deadline === undefined ? {} : { deadline: typeof deadline === 'number' ? Date.now() + deadline : deadline };
  }
}
