/**
 * Every refusal the service makes, in one table used by every protocol: what it means to the
 * client (change the request, or retry later), its RPC code, its HTTP status on the legacy
 * route, and whether a retry hint goes with it. Handlers throw `ServiceError`s; the RPC layer
 * and the legacy route only translate them. Anything else that escapes is an internal error,
 * logged with its stack and answered without its text.
 */
import { Code, ConnectError } from '@connectrpc/connect';
import type { Logger } from 'pino';

export type ErrorKind =
  /** The request is malformed or names something impossible: the client must change it. */
  | 'invalid'
  /** The request is over a configured limit (images, bytes, pixels): the client must make it smaller. */
  | 'limit'
  /** No valid API key. */
  | 'unauthenticated'
  /** Transient: the server is full right now; retry after the hint. */
  | 'overloaded'
  /** Transient: the server cannot serve now (models loading, draining, no inference worker). */
  | 'unavailable';

interface KindAnswer {
  code: Code;
  /** HTTP status on the legacy REST route. */
  http: number;
  /** Whether the answer carries a retry hint (Retry-After / retry-after metadata). */
  retry: boolean;
  /** Headers HTTP requires with this status (a 401 names its scheme). */
  headers?: Readonly<Record<string, string>>;
}

export const ERROR_KINDS: Readonly<Record<ErrorKind, KindAnswer>> = {
  invalid: { code: Code.InvalidArgument, http: 400, retry: false },
  limit: { code: Code.InvalidArgument, http: 413, retry: false },
  unauthenticated: { code: Code.Unauthenticated, http: 401, retry: false, headers: { 'www-authenticate': 'Bearer' } },
  overloaded: { code: Code.ResourceExhausted, http: 429, retry: true },
  unavailable: { code: Code.Unavailable, http: 503, retry: true },
};

/** Seconds a refused caller is told to wait: the admission queue holds about a second of work. */
export const RETRY_AFTER_SECONDS = 1;

/** A refusal the client is told about in words; `message` is safe to show. */
export class ServiceError extends Error {
  constructor(readonly kind: ErrorKind, message: string, options?: { cause?: unknown }) {
    super(message, options);
  }

  get answer(): KindAnswer {
    return ERROR_KINDS[this.kind];
  }
}

/** Headers that go with a refusal of this kind (the retry hint where it applies). */
export function refusalHeaders(err: ServiceError): Record<string, string> {
  return { ...err.answer.headers, ...(err.answer.retry ? { 'retry-after': String(RETRY_AFTER_SECONDS) } : {}) };
}

/** The ServiceError behind `err`: itself, or the one a ConnectError was made from. */
export function serviceErrorOf(err: unknown): ServiceError | undefined {
  if (err instanceof ServiceError) return err;
  if (err instanceof ConnectError && err.cause instanceof ServiceError) return err.cause;
  return undefined;
}

/** A ServiceError as the RPC error it stands for; anything else is passed through unchanged. */
export function toConnectError(err: unknown): unknown {
  if (!(err instanceof ServiceError)) return err;
  return new ConnectError(err.message, err.answer.code, refusalHeaders(err), undefined, err);
}

/** A code's name as the Connect protocol spells it (resource_exhausted); also the metrics' outcome label. */
export const codeName = (code: Code): string => Code[code].replace(/[A-Z]/g, (c, i) => (i ? '_' : '') + c.toLowerCase());

/**
 * An unexpected failure inside a request (a worker error, a bug): the detail and its stack are
 * logged under the request id, and the caller is told only `<what> failed` and that id.
 */
export function hiddenFailure(log: Logger, reqId: string, what: string, err: unknown): string {
  log.error({ reqId, err }, `${what} failed`);
  return `${what} failed: internal error (request id ${reqId})`;
}
