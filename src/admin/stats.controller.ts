import { Controller, Get } from '@nestjs/common';
import { CacheStats } from '../cache/cache-stats';
import { MemoryTier } from '../cache/memory.tier';
import { RedisTierHolder } from '../cache/redis-tier.provider';
import { InvalidationService } from '../invalidation/invalidation.service';
import { Coalescer } from '../proxy/coalescer';

@Controller()
export class StatsController {
  constructor(
    private readonly stats: CacheStats,
    private readonly l1: MemoryTier,
    private readonly coalescer: Coalescer,
    private readonly redis: RedisTierHolder,
    private readonly invalidation: InvalidationService,
  ) {}

  /** Counters since start, in the shape of the original Stats(), plus the L1 tier's state. */
  @Get('stats')
  get() {
    const s = this.stats;
    const l1 = this.l1.stats();
    const l2 = this.redis.tier;
    return {
      hits: s.hits,
      misses: s.misses,
      l1Hits: s.l1Hits,
      l2Hits: s.l2Hits,
      l2Misses: l2?.stats.misses ?? 0,
      l2Errors: l2?.stats.errors ?? 0,
      hitRate: Number(s.hitRate().toFixed(4)),
      coalesced: s.coalesced,
      revalidations: s.revalidations,
      staleServed: s.staleServed,
      passes: s.passes,
      stores: s.stores,
      incompleteBodies: s.incompleteBodies,
      upstreamErrors: s.upstreamErrors,
      backgroundRefreshes: s.backgroundRefreshes,
      backgroundRefreshErrors: s.backgroundRefreshErrors,
      invalidations: s.invalidations,
      invalidationsByKind: this.invalidation.byKind(),
      invalidationsReceived: this.invalidation.remoteApplied,
      inFlightFetches: this.coalescer.inFlight,
      l1: { entries: l1.entries, bytes: l1.bytes, capacityBytes: l1.capacityBytes, evictions: l1.evictions },
      l2: l2 === null ? null : {
        hits: l2.stats.hits,
        misses: l2.stats.misses,
        errors: l2.stats.errors,
        skipped: l2.stats.skipped,
        writes: l2.stats.writes,
        tooLarge: l2.stats.tooLarge,
        breaker: l2.breaker.state,
        breakerOpens: l2.breaker.opens,
        connection: l2.client.status,
      },
      bus: this.invalidation.busStats(),
    };
  }
}
