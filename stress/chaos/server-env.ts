/**
 * How the chaos suite starts the server: API keys on (so the key checks are attacked too, and
 * every other attack presents the key), and short connection timeouts so the slow-client attacks
 * can see them fire within a bounded round. Variables today's server does not know are ignored
 * by it, so the suite runs against the code before and after issue 10.
 */
export const CHAOS_API_KEY = 'chaos-suite-key-0123456789abcdef';

/** Seconds after which the fixed server closes a slow or idle client (item 2); short on purpose. */
export const CHAOS_TIMEOUTS = {
  /** Request headers must be complete within this (HTTP/1.1 408; HTTP/2 stream reset). */
  headersSeconds: 2,
  /** A request body that stops arriving for this long is ended. */
  bodySeconds: 2,
  /** A whole unary request (head and body) must arrive within this: a body sent a byte at a time. */
  requestSeconds: 3,
  /** A connection or HTTP/2 session with no request in flight is closed after this. */
  idleSeconds: 2,
  /** A response the client does not read for this long is dropped. */
  writeSeconds: 2,
};

/**
 * Slack on top of a timeout before a client that was not closed counts as a broken expectation:
 * timers fire late on a loaded 2-core machine.
 */
export const CLOSE_SLACK_SECONDS = 2;

export const CHAOS_SERVER_ENV: Record<string, string> = {
  FACEREST_WORKERS: '2',
  FACEREST_API_KEYS: CHAOS_API_KEY,
  FACEREST_LOG_LEVEL: 'info',
  FACEREST_HEADERS_TIMEOUT_SECONDS: String(CHAOS_TIMEOUTS.headersSeconds),
  FACEREST_BODY_TIMEOUT_SECONDS: String(CHAOS_TIMEOUTS.bodySeconds),
  FACEREST_IDLE_TIMEOUT_SECONDS: String(CHAOS_TIMEOUTS.idleSeconds),
  FACEREST_REQUEST_TIMEOUT_SECONDS: String(CHAOS_TIMEOUTS.requestSeconds),
  FACEREST_WRITE_TIMEOUT_SECONDS: String(CHAOS_TIMEOUTS.writeSeconds),
};
