/** Counters behind /stats (and, later, the metrics). Plain integers: incrementing one is free. */
export class CacheStats {
  /** Lookups answered from a tier without contacting the origin for the body. */
  hits = 0;
  l1Hits = 0;
  l2Hits = 0;
  /** Cacheable lookups that found nothing usable. */
  misses = 0;
  /** Requests served from another request's fetch (request coalescing). */
  coalesced = 0;
  /** Stale objects revalidated with the origin (304 or replaced). */
  revalidations = 0;
  /** Stale objects served: stale-while-revalidate, max-stale, stale-if-error. */
  staleServed = 0;
  /** Requests forwarded without a cache lookup (methods, bypasses, hit-for-pass). */
  passes = 0;
  stores = 0;
  /** Responses that could have been stored but were not because their body was incomplete. */
  incompleteBodies = 0;
  upstreamErrors = 0;
  backgroundRefreshes = 0;
  backgroundRefreshErrors = 0;
  invalidations = 0;

  hitRate(): number {
    const lookups = this.hits + this.misses;
    return lookups === 0 ? 0 : this.hits / lookups;
  }
}
