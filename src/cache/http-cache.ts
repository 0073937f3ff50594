import type { IncomingHttpHeaders } from 'node:http';
import { varySelector } from '../http-cache/vary';
import { CachedResponse, MAX_VARIANTS_PER_URL, VaryIndex } from './cache-entry';
import type { CacheTier } from './cache-tier';
import { MemoryTier } from './memory.tier';
import type { RedisTier } from './redis.tier';
import type { InvalidationTarget } from '../invalidation/invalidation';

export type MissReason = 'uri-miss' | 'vary-miss';

/** Where a lookup ended: the object and the key it lives at, or why nothing matched. */
export interface LookupOutcome {
  key: string;
  found: CachedResponse | undefined;
  miss: MissReason;
}

const VARIANT_SEPARATOR = '\u0001';

/**
 * The cache as the request path sees it: tiers fastest first behind one interface, with the
 * Vary index that maps a URL to its variants. L1 answers synchronously.
 */
export class HttpCache {
  readonly tiers: CacheTier[];
  readonly l2: RedisTier | null = null;

  constructor(readonly l1: MemoryTier, private readonly maxAgeMs: number) {
    this.tiers = [l1];
  }

  /** Looks a request up in L1. Writes the variant key into `out` so the caller can coalesce on it. */
  lookup(primaryKey: string, headers: IncomingHttpHeaders, out: LookupOutcome): void {
    const entry = this.l1.get(primaryKey);
    out.key = primaryKey;
    out.found = undefined;
    out.miss = 'uri-miss';
    if (entry === undefined) return;
    if (entry.kind === 'response') {
      out.found = entry;
      return;
    }
    const selector = varySelector(entry.names, headers);
    out.key = primaryKey + VARIANT_SEPARATOR + selector;
    const variant = this.l1.get(out.key);
    if (variant !== undefined && variant.kind === 'response') out.found = variant;
    else out.miss = 'vary-miss';
  }

  /** The key a response with these Vary names is stored under for this request. */
  variantKey(primaryKey: string, varyNames: readonly string[], headers: IncomingHttpHeaders): string {
    return varyNames.length === 0 ? primaryKey : primaryKey + VARIANT_SEPARATOR + varySelector(varyNames, headers);
  }

  /** The time a tier may keep an object: its freshness and stale windows, capped by CACHE_MAX_AGE. */
  tierTtl(obj: CachedResponse): number {
    const remaining = obj.lifetimeMs - obj.initialAgeMs + Math.max(obj.staleWhileRevalidateMs, obj.staleIfErrorMs);
    // Objects that must be revalidated stay as long as the cap allows: their validators are the value.
    const useful = obj.etag !== undefined || obj.lastModified !== undefined ? Math.max(remaining, this.maxAgeMs) : remaining;
    return Math.min(Math.max(useful, 1000), this.maxAgeMs);
  }

  store(primaryKey: string, headers: IncomingHttpHeaders, obj: CachedResponse): void {
    const ttl = this.tierTtl(obj);
    if (obj.varyNames.length === 0) {
      this.dropVariants(primaryKey);
      this.l1.set(primaryKey, obj, ttl);
      return;
    }
    const selector = varySelector(obj.varyNames, headers);
    const existing = this.l1.get(primaryKey);
    let selectors: string[] = [selector];
    if (existing?.kind === 'vary' && sameNames(existing.names, obj.varyNames)) {
      selectors = existing.selectors.filter((s) => s !== selector);
      selectors.push(selector);
      // Past the variant cap, the oldest variant goes.
      while (selectors.length > MAX_VARIANTS_PER_URL) this.l1.delete(primaryKey + VARIANT_SEPARATOR + selectors.shift()!);
    } else {
      this.dropVariants(primaryKey);
    }
    const index: VaryIndex = { kind: 'vary', names: obj.varyNames, selectors, size: 64 + selectors.reduce((n, s) => n + s.length, 0) };
    this.l1.set(primaryKey, index, this.maxAgeMs);
    this.l1.set(primaryKey + VARIANT_SEPARATOR + selector, obj, ttl);
  }

  /** Applies an invalidation to this instance's L1. */
  invalidateLocal(target: InvalidationTarget, _soft: boolean): number {
    if (target.kind === 'urls') return target.keys.reduce((n, k) => n + this.invalidate(k), 0);
    if (target.kind === 'all') return this.l1.clear();
    return 0;
  }

  /** Removes a URL and all its variants. Returns how many objects went. */
  invalidate(primaryKey: string): number {
    const removed = this.dropVariants(primaryKey);
    return removed + (this.l1.delete(primaryKey) ? 1 : 0);
  }

  private dropVariants(primaryKey: string): number {
    const existing = this.l1.get(primaryKey);
    if (existing?.kind !== 'vary') return 0;
    let n = 0;
    for (const s of existing.selectors) if (this.l1.delete(primaryKey + VARIANT_SEPARATOR + s)) n++;
    return n;
  }
}

function sameNames(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((n, i) => n === b[i]);
}
