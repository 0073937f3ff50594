import type { InvalidationTarget } from '../invalidation/invalidation';
import type { CacheEntry } from './cache-entry';
import type { CachedResponse } from './cached-response';

/** A tier's state as /readyz, /stats and the metrics report it. */
export interface TierHealth {
  name: string;
  /** ok: serving; degraded: failing calls read as misses (the request path goes on without it). */
  state: 'ok' | 'degraded';
  /** Tier-specific counters and state, shown as they are under the tier's name in /stats. */
  details: Record<string, unknown>;
  /** Calls that failed or timed out since start. */
  errors: number;
}

/**
 * Leases for coalescing fills across instances: one holder per URL at a time, for a bounded
 * time. A lease is released only by its holder's token (compare-and-delete), so a fill that
 * outlasts its lease never deletes the next holder's.
 */
export interface FillLeases {
  readonly leaseMs: number;
  /** true: the caller holds it; false: someone else does; 'unavailable': leases cannot be had now. */
  acquire(primaryKey: string, token: string): Promise<boolean | 'unavailable'>;
  release(primaryKey: string, token: string): void;
  held(primaryKey: string): Promise<boolean>;
}

/**
 * One tier of the cache. A URL's slot holds its response (variant '') or, when responses
 * vary, a Vary index at '' and the variants under their selectors. `get` may answer
 * synchronously: the in-memory tier does, so an L1 hit allocates no Promise; a networked
 * tier returns a Promise.
 */
export interface CacheTier {
  /** Short name used in Cache-Status detail, metrics and logs: `l1`, `l2`. */
  readonly name: 'l1' | 'l2';
  /** Whether every instance sees this tier (Redis): a local invalidation from the bus skips it. */
  readonly shared: boolean;
  /** countMiss false: a second look on behalf of a waiter, not a lookup of its own. */
  get(primaryKey: string, variant: string, countMiss?: boolean): CacheEntry | undefined | Promise<CacheEntry | undefined>;
  /** ttlMs bounds how long the tier keeps the entry (see retentionMs). */
  set(primaryKey: string, variant: string, entry: CacheEntry, ttlMs: number): void | Promise<void>;
  /** How long this tier keeps an object stored at `now`. */
  retentionMs(obj: CachedResponse, now: number): number;
  /** Removes a URL with all its variants; resolves to how many objects went. */
  delete(primaryKey: string): number | Promise<number>;
  /** Removes (or, soft, marks stale) what the target names; null when the tier could not be reached. */
  invalidate(target: InvalidationTarget, soft: boolean): number | null | Promise<number | null>;
  health(): TierHealth;
  /**
   * Every variant stored for a URL, by selector, without counting a lookup (the explain
   * endpoint): a response stored without Vary is the one variant ''. Undefined when the tier
   * could not be read.
   */
  variantsOf(primaryKey: string): Map<string, CachedResponse> | undefined | Promise<Map<string, CachedResponse> | undefined>;
  /** Offered by a shared tier: the leases behind cross-instance coalescing. */
  readonly leases?: FillLeases;
}
