import { LRUCache } from 'lru-cache';

/**
 * Keys whose last response was uncacheable (Varnish's hit-for-pass): for a while their misses
 * skip the waiting list, so one uncacheable URL never serialises traffic behind one fetch.
 */
export class HitForPass {
  /** The key, and why its last response was not stored (for /admin/explain). */
  private readonly keys: LRUCache<string, string>;

  constructor(ttlMs: number) {
    this.keys = new LRUCache<string, string>({ max: 100_000, ttl: Math.max(1, ttlMs), ttlAutopurge: false });
  }

  has(key: string): boolean {
    return this.keys.get(key) !== undefined;
  }

  mark(key: string, reason = 'uncacheable'): void {
    this.keys.set(key, reason);
  }

  /** Why the key's last response was not stored, while it is remembered. */
  reasonOf(key: string): string | undefined {
    return this.keys.peek(key);
  }

  clear(key: string): void {
    this.keys.delete(key);
  }
}
