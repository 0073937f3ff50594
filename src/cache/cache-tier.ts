import type { InvalidationTarget } from '../invalidation/invalidation';
import type { CacheEntry } from './cache-entry';

/**
 * One tier of the cache. A URL's slot holds its response (variant '') or, when responses
 * vary, a Vary index at '' and the variants under their selectors. `get` may answer
 * synchronously: the in-memory tier does, so an L1 hit allocates no Promise; a networked
 * tier returns a Promise.
 */
export interface CacheTier {
  /** Short name used in Cache-Status detail, metrics and logs: `l1`, `l2`. */
  readonly name: string;
  get(primaryKey: string, variant: string): CacheEntry | undefined | Promise<CacheEntry | undefined>;
  /** ttlMs bounds how long the tier keeps the entry: freshness plus the stale windows, capped. */
  set(primaryKey: string, variant: string, entry: CacheEntry, ttlMs: number): void | Promise<void>;
  /** Removes a URL with all its variants; resolves to how many objects went. */
  delete(primaryKey: string): number | Promise<number>;
  /** Removes (or, soft, marks stale) what the target names; null when the tier could not be reached. */
  invalidate(target: InvalidationTarget, soft: boolean): number | null | Promise<number | null>;
}
