import { LRUCache } from 'lru-cache';
import type { CacheEntry } from './cache-entry';
import type { CacheTier } from './cache-tier';

export interface MemoryTierStats {
  entries: number;
  bytes: number;
  capacityBytes: number;
  evictions: number;
}

/** L1: this instance's memory, bounded in bytes (headers and body), least-recently-used first out. */
export class MemoryTier implements CacheTier {
  readonly name = 'l1';
  private evictions = 0;
  private readonly lru: LRUCache<string, CacheEntry>;

  constructor(private readonly capacityBytes: number, maxObjectBytes: number) {
    this.lru = new LRUCache<string, CacheEntry>({
      maxSize: capacityBytes,
      maxEntrySize: maxObjectBytes,
      sizeCalculation: (entry) => Math.max(1, entry.size),
      // Expired entries are dropped when read; no timers per entry.
      ttlAutopurge: false,
      updateAgeOnGet: false,
      dispose: (_value, _key, reason) => {
        if (reason === 'evict') this.evictions++;
      },
    });
  }

  get(key: string): CacheEntry | undefined {
    return this.lru.get(key);
  }

  set(key: string, entry: CacheEntry, ttlMs: number): void {
    this.lru.set(key, entry, { ttl: Math.max(1, Math.ceil(ttlMs)) });
  }

  delete(key: string): boolean {
    return this.lru.delete(key);
  }

  clear(): number {
    const n = this.lru.size;
    this.lru.clear();
    return n;
  }

  stats(): MemoryTierStats {
    return { entries: this.lru.size, bytes: this.lru.calculatedSize, capacityBytes: this.capacityBytes, evictions: this.evictions };
  }
}
