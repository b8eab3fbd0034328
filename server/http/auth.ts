/**
 * Optional API keys. When keys are configured every RPC and POST /extract must present one, as
 * `Authorization: Bearer <key>` or `x-api-key: <key>`; health checks, metrics and the page's
 * static files stay open. Keys are compared by their SHA-256 in constant time.
 */
import { createHash, timingSafeEqual } from 'node:crypto';

const digest = (key: string) => createHash('sha256').update(key).digest();

type HeaderValue = string | string[] | undefined | null;

/** One accepted key (a line of the keys file: `<key>` or `<key> collections=a,b`). */
export interface ApiKey {
  key: string;
  /** The gallery collections this key may use; absent: all of them. */
  collections?: readonly string[];
}

/** What the caller's key allows: `collections` absent means every collection. */
export interface KeyScope {
  collections?: ReadonlySet<string>;
}

const EVERYTHING: KeyScope = {};

export class ApiKeys {
  private readonly keys: { digest: Buffer; scope: KeyScope }[];

  constructor(keys: ApiKey[]) {
    this.keys = keys.map((k) => ({ digest: digest(k.key), scope: k.collections ? { collections: new Set(k.collections) } : EVERYTHING }));
  }

  get enabled(): boolean {
    return this.keys.length > 0;
  }

  /** True when keys are off, or the headers carry one of them. */
  allows(authorization: HeaderValue, apiKey: HeaderValue): boolean {
    return this.scope(authorization, apiKey) !== undefined;
  }

  /** The presented key's scope (everything when keys are off); undefined without a valid key. */
  scope(authorization: HeaderValue, apiKey: HeaderValue): KeyScope | undefined {
    if (!this.enabled) return EVERYTHING;
    const one = (v: HeaderValue) => (Array.isArray(v) ? v[0] : v) ?? undefined;
    const bearer = /^Bearer\s+(.+)$/i.exec(one(authorization) ?? '')?.[1]?.trim();
    const presented = bearer ?? one(apiKey)?.trim();
    if (!presented) return undefined;
    const d = digest(presented);
    let found: KeyScope | undefined;
    // Every key is compared, so the time taken does not tell which one matched.
    for (const k of this.keys) if (timingSafeEqual(k.digest, d)) found = k.scope;
    return found;
  }
}

export const UNAUTHENTICATED_MESSAGE = 'an API key is required: send "Authorization: Bearer <key>" or "x-api-key: <key>"';
