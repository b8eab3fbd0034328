/**
 * Optional API keys. When keys are configured every RPC and POST /extract must present one, as
 * `Authorization: Bearer <key>` or `x-api-key: <key>`; health checks, metrics and the page's
 * static files stay open. Keys are compared by their SHA-256 in constant time.
 */
import { createHash, timingSafeEqual } from 'node:crypto';

const digest = (key: string) => createHash('sha256').update(key).digest();

type HeaderValue = string | string[] | undefined | null;

export class ApiKeys {
  private readonly digests: Buffer[];

  constructor(keys: string[]) {
    this.digests = keys.map(digest);
  }

  get enabled(): boolean {
    return this.digests.length > 0;
  }

  /** True when keys are off, or the headers carry one of them. */
  allows(authorization: HeaderValue, apiKey: HeaderValue): boolean {
    if (!this.enabled) return true;
    const one = (v: HeaderValue) => (Array.isArray(v) ? v[0] : v) ?? undefined;
    const bearer = /^Bearer\s+(.+)$/i.exec(one(authorization) ?? '')?.[1]?.trim();
    const presented = bearer ?? one(apiKey)?.trim();
    if (!presented) return false;
    const d = digest(presented);
    let match = false;
    for (const k of this.digests) match = timingSafeEqual(k, d) || match;
    return match;
  }
}

export const UNAUTHENTICATED_MESSAGE = 'an API key is required: send "Authorization: Bearer <key>" or "x-api-key: <key>"';
