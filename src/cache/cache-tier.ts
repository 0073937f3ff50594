import type { CacheEntry } from './cache-entry';

/**
 * One tier of the cache. `get` may answer synchronously: the in-memory tier does, so a hit
 * allocates no Promise; a networked tier returns a Promise.
 */
export interface CacheTier {
  /** Short name used in Cache-Status detail, metrics and logs: `l1`, `l2`. */
  readonly name: string;
  get(key: string): CacheEntry | undefined | Promise<CacheEntry | undefined>;
  /** ttlMs bounds how long the tier keeps the entry: freshness plus the stale windows, capped. */
  set(key: string, entry: CacheEntry, ttlMs: number): void | Promise<void>;
  delete(key: string): boolean | Promise<boolean>;
  clear(): number | Promise<number>;
}
