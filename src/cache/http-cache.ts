import type { IncomingHttpHeaders } from 'node:http';
import { varySelector } from '../http-cache/vary';
import type { InvalidationTarget } from '../invalidation/invalidation';
import { CachedResponse, VaryIndex } from './cache-entry';
import type { CacheTier } from './cache-tier';
import { MemoryTier } from './memory.tier';
import type { RedisTier } from './redis.tier';

export type MissReason = 'uri-miss' | 'vary-miss';

/** Where a lookup ended: the object, the tier that had it and the key it lives at, or why nothing matched. */
export interface LookupOutcome {
  /** The URL and variant: what concurrent misses coalesce on. */
  key: string;
  found: CachedResponse | undefined;
  tier: 'l1' | 'l2';
  miss: MissReason;
}

const VARIANT_SEPARATOR = '\u0001';

/**
 * The cache as the request path sees it: tiers fastest first behind one interface. A request
 * checks L1 (synchronously), then L2; an L2 hit is promoted to L1; a store goes to both, the
 * L2 write never delaying the response.
 */
export class HttpCache {
  readonly tiers: CacheTier[];

  constructor(
    readonly l1: MemoryTier,
    private readonly maxAgeMs: number,
    readonly l2: RedisTier | null = null,
  ) {
    this.tiers = l2 ? [l1, l2] : [l1];
  }

  /** Looks a request up in L1. Writes the variant key into `out` so the caller can coalesce on it. */
  lookup(primaryKey: string, headers: IncomingHttpHeaders, out: LookupOutcome): void {
    const entry = this.l1.get(primaryKey, '');
    out.key = primaryKey;
    out.found = undefined;
    out.tier = 'l1';
    out.miss = 'uri-miss';
    if (entry === undefined) return;
    if (entry.kind === 'response') {
      out.found = entry;
      return;
    }
    const selector = varySelector(entry.names, headers);
    out.key = primaryKey + VARIANT_SEPARATOR + selector;
    const variant = this.l1.get(primaryKey, selector);
    if (variant !== undefined && variant.kind === 'response') out.found = variant;
    else out.miss = 'vary-miss';
  }

  /** Looks a request up in L2 after an L1 miss; a hit is promoted to L1 for the rest of its life. */
  async lookupL2(primaryKey: string, headers: IncomingHttpHeaders, out: LookupOutcome, countMiss = true): Promise<void> {
    const l2 = this.l2;
    if (l2 === null) return;
    const entry = await l2.get(primaryKey, '', countMiss);
    if (entry === undefined) return;
    if (entry.kind === 'response') {
      out.key = primaryKey;
      out.found = entry;
      out.tier = 'l2';
      this.l1.set(primaryKey, '', entry, this.l1Ttl(entry));
      return;
    }
    const selector = varySelector(entry.names, headers);
    out.key = primaryKey + VARIANT_SEPARATOR + selector;
    const variant = await l2.get(primaryKey, selector, countMiss);
    if (variant === undefined || variant.kind !== 'response') {
      out.miss = 'vary-miss';
      return;
    }
    out.found = variant;
    out.tier = 'l2';
    if (this.l1.get(primaryKey, '')?.kind !== 'vary') this.l1.set(primaryKey, '', entry, this.maxAgeMs);
    this.l1.set(primaryKey, selector, variant, this.l1Ttl(variant));
  }

  /** The key a response with these Vary names is stored under for this request. */
  variantKey(primaryKey: string, varyNames: readonly string[], headers: IncomingHttpHeaders): string {
    return varyNames.length === 0 ? primaryKey : primaryKey + VARIANT_SEPARATOR + varySelector(varyNames, headers);
  }

  /** How long an object may be used at all from now: what is left of its freshness, plus its stale windows. */
  private usableMs(obj: CachedResponse, now: number): number {
    const age = obj.initialAgeMs + (now - obj.responseTime);
    return obj.lifetimeMs - age + Math.max(obj.staleWhileRevalidateMs, obj.staleIfErrorMs);
  }

  /**
   * The time L1 may keep an object: its remaining freshness and stale windows, capped by
   * CACHE_MAX_AGE. Objects with validators stay as long as the cap allows: a cheap 304 revives them.
   */
  l1Ttl(obj: CachedResponse, now = Date.now()): number {
    const usable = this.usableMs(obj, now);
    const useful = obj.etag !== undefined || obj.lastModified !== undefined ? Math.max(usable, this.maxAgeMs) : usable;
    return Math.min(Math.max(useful, 1000), this.maxAgeMs);
  }

  /** The time L2 keeps an object: its remaining freshness and stale windows (the tier adds a margin). */
  l2Ttl(obj: CachedResponse, now = Date.now()): number {
    const usable = this.usableMs(obj, now);
    // Validators make an expired object worth keeping for revalidation, as long as L1 would.
    return obj.etag !== undefined || obj.lastModified !== undefined ? Math.max(usable, this.maxAgeMs) : Math.max(usable, 1000);
  }

  /** Stores a response in L1 now and in L2 in the background. Resolves when the L2 write is done. */
  store(primaryKey: string, headers: IncomingHttpHeaders, obj: CachedResponse): Promise<void> | undefined {
    const l1Ttl = this.l1Ttl(obj);
    if (obj.varyNames.length === 0) {
      this.l1.set(primaryKey, '', obj, l1Ttl);
      return this.l2?.set(primaryKey, '', obj, this.l2Ttl(obj));
    }
    const selector = varySelector(obj.varyNames, headers);
    const index: VaryIndex = { kind: 'vary', names: obj.varyNames, size: 64 + obj.varyNames.join().length };
    this.l1.set(primaryKey, '', index, this.maxAgeMs);
    this.l1.set(primaryKey, selector, obj, l1Ttl);
    if (this.l2 === null) return undefined;
    const l2Ttl = this.l2Ttl(obj);
    return Promise.all([this.l2.set(primaryKey, '', index, l2Ttl), this.l2.set(primaryKey, selector, obj, l2Ttl)]).then(() => undefined);
  }

  /** Applies an invalidation to this instance's L1; returns how many objects it touched. */
  invalidateLocal(target: InvalidationTarget, soft: boolean): number {
    return this.l1.invalidate(target, soft);
  }
}
