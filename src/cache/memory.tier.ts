import { LRUCache } from 'lru-cache';
import { compileGlob } from '../invalidation/glob';
import type { InvalidationTarget } from '../invalidation/invalidation';
import { CacheEntry, MAX_VARIANTS_PER_URL } from './cache-entry';
import { CachedResponse, hasValidator, markedStale, usableMs } from './cached-response';
import type { CacheTier, TierHealth } from './cache-tier';

export interface MemoryTierStats {
  /** Entries held: responses, variants and Vary indexes. */
  entries: number;
  bytes: number;
  capacityBytes: number;
  evictions: number;
}

/**
 * Everything L1 holds for one URL, in one LRU slot: the response (or Vary index) and the
 * variants. A URL is evicted, expired or invalidated as a whole, so a variant can never
 * outlive the index that leads to it. Immutable: a change makes a new one, sized anew.
 */
interface UrlSlot {
  base: CacheEntry | undefined;
  variants: ReadonlyMap<string, CachedResponse> | null;
  size: number;
}

/** L1: this instance's memory, bounded in bytes (headers and body), least-recently-used first out. */
export class MemoryTier implements CacheTier {
  readonly name = 'l1';
  readonly shared = false;
  private evictions = 0;
  private entries = 0;
  private readonly lru: LRUCache<string, UrlSlot>;

  /** validatorRetentionMs: how long an object with validators is kept at least, for a cheap 304 to revive it. */
  constructor(private readonly capacityBytes: number, private readonly maxObjectBytes: number, private readonly validatorRetentionMs: number) {
    this.lru = new LRUCache<string, UrlSlot>({
      maxSize: capacityBytes,
      sizeCalculation: (slot) => Math.max(1, slot.size),
      // Expired entries are dropped when read; no timers per entry.
      ttlAutopurge: false,
      updateAgeOnGet: false,
      // Called for every slot that leaves, replaced ones included: the entry count stays exact.
      dispose: (value, _key, reason) => {
        this.entries -= entryCount(value);
        if (reason === 'evict') this.evictions++;
      },
    });
  }

  /** The synchronous read on the hit path: '' is the URL's response or Vary index, else a variant. */
  get(primaryKey: string, variant = ''): CacheEntry | undefined {
    const slot = this.lru.get(primaryKey);
    if (slot === undefined) return undefined;
    return variant === '' ? slot.base : slot.variants?.get(variant);
  }

  /** What L1 holds for a URL, its recency untouched (for /admin/explain). */
  peek(primaryKey: string): { base: CacheEntry | undefined; variants: ReadonlyMap<string, CachedResponse> } | undefined {
    const slot = this.lru.peek(primaryKey);
    return slot === undefined ? undefined : { base: slot.base, variants: slot.variants ?? new Map() };
  }

  variantsOf(primaryKey: string): Map<string, CachedResponse> {
    const slot = this.lru.peek(primaryKey);
    if (slot === undefined) return new Map();
    if (slot.base?.kind === 'response') return new Map([['', slot.base]]);
    return new Map(slot.variants ?? []);
  }

  /**
   * Its remaining freshness and stale windows. Objects with validators stay at least
   * validatorRetentionMs: once stale (CACHE_MAX_AGE caps their freshness), a cheap 304 revives them.
   */
  retentionMs(obj: CachedResponse, now: number): number {
    const usable = usableMs(obj, now);
    const useful = hasValidator(obj) ? Math.max(usable, this.validatorRetentionMs) : usable;
    return Math.max(useful, 1000);
  }

  health(): TierHealth {
    return { name: this.name, state: 'ok', details: { ...this.stats() }, errors: 0 };
  }

  set(primaryKey: string, variant: string, entry: CacheEntry, ttlMs: number): void {
    const ttl = Math.max(1, Math.ceil(ttlMs));
    if (entry.size > this.maxObjectBytes) {
      // Too large to keep: whatever stood there is outdated by this response, so it goes too.
      if (variant === '') this.lru.delete(primaryKey);
      else this.removeVariant(primaryKey, variant);
      return;
    }
    if (variant === '') {
      const prev = this.lru.get(primaryKey);
      // A Vary index keeps the variants that match its field names; a plain response replaces them all.
      const keep = entry.kind === 'vary' && prev?.base?.kind === 'vary' && sameNames(prev.base.names, entry.names) ? prev.variants : null;
      const slot: UrlSlot = { base: entry, variants: keep, size: entry.size + variantBytes(keep) };
      this.put(primaryKey, slot, keep && prev ? Math.max(ttl, this.lru.getRemainingTTL(primaryKey)) : ttl);
      return;
    }
    if (entry.kind !== 'response') return;
    const prev = this.lru.get(primaryKey);
    const variants = new Map(prev?.variants ?? []);
    variants.delete(variant);
    variants.set(variant, entry);
    // Past the variant cap, the variant stored longest ago goes (Map keeps insertion order).
    if (variants.size > MAX_VARIANTS_PER_URL) variants.delete(variants.keys().next().value!);
    const slot: UrlSlot = { base: prev?.base, variants, size: (prev?.base?.size ?? 0) + variantBytes(variants) };
    this.put(primaryKey, slot, prev ? Math.max(ttl, this.lru.getRemainingTTL(primaryKey)) : ttl);
  }

  /** Removes a URL with all its variants; returns how many objects went. */
  delete(primaryKey: string): number {
    const slot = this.lru.get(primaryKey);
    if (slot === undefined) return 0;
    this.lru.delete(primaryKey);
    return entryCount(slot);
  }

  clear(): number {
    let n = 0;
    for (const slot of this.lru.values()) n += entryCount(slot);
    this.lru.clear();
    return n;
  }

  /** Removes (or, soft, marks stale) what the target names; returns how many objects it touched. */
  invalidate(target: InvalidationTarget, soft: boolean): number {
    switch (target.kind) {
      case 'urls':
        return target.keys.reduce((n, k) => n + (soft ? this.markStale(k) : this.delete(k)), 0);
      case 'all':
        return soft ? [...this.lru.keys()].reduce((n, k) => n + this.markStale(k), 0) : this.clear();
      case 'pattern': {
        const glob = compileGlob(target.pattern);
        const keys = [...this.lru.keys()].filter((k) => glob.matches(k));
        return keys.reduce((n, k) => n + (soft ? this.markStale(k) : this.delete(k)), 0);
      }
      case 'tags': {
        const wanted = new Set(target.tags);
        const keys: string[] = [];
        for (const [key, slot] of this.lru.entries()) if (slotHasTag(slot, wanted)) keys.push(key);
        return keys.reduce((n, k) => n + (soft ? this.markStale(k) : this.delete(k)), 0);
      }
    }
  }

  stats(): MemoryTierStats {
    return { entries: this.entries, bytes: this.lru.calculatedSize, capacityBytes: this.capacityBytes, evictions: this.evictions };
  }

  private put(key: string, slot: UrlSlot, ttl: number): void {
    // A URL whose variants together outgrow the per-object cap many times over is not worth its room.
    if (slot.size > this.capacityBytes) {
      this.lru.delete(key);
      return;
    }
    this.entries += entryCount(slot);
    this.lru.set(key, slot, { ttl });
  }

  private removeVariant(primaryKey: string, variant: string): void {
    const prev = this.lru.get(primaryKey);
    if (!prev?.variants?.has(variant)) return;
    const variants = new Map(prev.variants);
    variants.delete(variant);
    this.put(primaryKey, { base: prev.base, variants, size: (prev.base?.size ?? 0) + variantBytes(variants) }, this.lru.getRemainingTTL(primaryKey));
  }

  /** Soft invalidation: the objects stay, stale from now, so they are revalidated before use. */
  private markStale(primaryKey: string): number {
    const slot = this.lru.get(primaryKey);
    if (slot === undefined) return 0;
    const now = Date.now();
    const base = slot.base?.kind === 'response' ? markedStale(slot.base, now) : slot.base;
    let variants: Map<string, CachedResponse> | null = null;
    if (slot.variants) {
      variants = new Map();
      for (const [k, v] of slot.variants) variants.set(k, markedStale(v, now));
    }
    this.put(primaryKey, { base, variants, size: slot.size }, Math.max(1, this.lru.getRemainingTTL(primaryKey)));
    return entryCount(slot);
  }
}

function variantBytes(variants: ReadonlyMap<string, CachedResponse> | null): number {
  let n = 0;
  if (variants) for (const v of variants.values()) n += v.size;
  return n;
}

/** Stored entries in a slot: the response or Vary index, and the variants. */
function entryCount(slot: UrlSlot): number {
  return (slot.base ? 1 : 0) + (slot.variants?.size ?? 0);
}

function slotHasTag(slot: UrlSlot, wanted: Set<string>): boolean {
  if (slot.base?.kind === 'response' && slot.base.tags.some((t) => wanted.has(t))) return true;
  if (slot.variants) for (const v of slot.variants.values()) if (v.tags.some((t) => wanted.has(t))) return true;
  return false;
}

function sameNames(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((n, i) => n === b[i]);
}
