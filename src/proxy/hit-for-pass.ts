import { LRUCache } from 'lru-cache';

/**
 * Keys whose last response was uncacheable (Varnish's hit-for-pass): for a while their misses
 * skip the waiting list, so one uncacheable URL never serialises traffic behind one fetch.
 */
export class HitForPass {
  private readonly keys: LRUCache<string, true>;

  constructor(ttlMs: number) {
    this.keys = new LRUCache<string, true>({ max: 100_000, ttl: Math.max(1, ttlMs), ttlAutopurge: false });
  }

  has(key: string): boolean {
    return this.keys.get(key) === true;
  }

  mark(key: string): void {
    this.keys.set(key, true);
  }

  clear(key: string): void {
    this.keys.delete(key);
  }
}
