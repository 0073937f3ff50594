import type { StoredFreshness } from '../http-cache/reuse';

/**
 * A stored response, kept in the form Tiercel writes it: a hit is one writeHead with the
 * precomputed header list plus Age and Cache-Status, and one write of the body.
 */
export interface CachedResponse extends StoredFreshness {
  readonly kind: 'response';
  status: number;
  /** Flat [name, value, name, value…] list, as delivered, without Age and Cache-Status. */
  headers: string[];
  body: Buffer;
  etag: string | undefined;
  lastModified: string | undefined;
  date: string | undefined;
  requestTime: number;
  staleIfErrorMs: number;
  /** Lower-case Vary field names; empty when the response does not vary. */
  varyNames: readonly string[];
  /** Surrogate keys from Surrogate-Key / Cache-Tag, for tag invalidation. */
  tags: readonly string[];
  /** Bytes counted against the tier's capacity: headers and body. */
  size: number;
}

/**
 * Stands in a URL's own slot when its responses vary: names the Vary fields, from which a
 * request's values select the variant.
 */
export interface VaryIndex {
  readonly kind: 'vary';
  names: readonly string[];
  size: number;
}

export type CacheEntry = CachedResponse | VaryIndex;

export const MAX_VARIANTS_PER_URL = 32;

/** A soft-invalidated response: stale from `at` on, so it is revalidated before use (or served within its stale windows). */
export function markedStale(entry: CachedResponse, at: number): CachedResponse {
  const ageThen = entry.initialAgeMs + (at - entry.responseTime);
  return entry.lifetimeMs <= ageThen ? entry : { ...entry, lifetimeMs: Math.max(0, ageThen) };
}

export function headerBytes(headers: readonly string[]): number {
  let n = 0;
  for (const h of headers) n += h.length + 2;
  return n;
}

/** Finds a header in a flat list; names in stored lists are lower-case. */
export function findHeader(headers: readonly string[], name: string): string | undefined {
  for (let i = 0; i < headers.length; i += 2) if (headers[i] === name) return headers[i + 1];
  return undefined;
}
