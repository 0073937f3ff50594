import { Controller, Get } from '@nestjs/common';
import { CacheStats } from '../cache/cache-stats';
import { MemoryTier } from '../cache/memory.tier';
import { Coalescer } from '../proxy/coalescer';

@Controller()
export class StatsController {
  constructor(
    private readonly stats: CacheStats,
    private readonly l1: MemoryTier,
    private readonly coalescer: Coalescer,
  ) {}

  /** Counters since start, in the shape of the original Stats(), plus the L1 tier's state. */
  @Get('stats')
  get() {
    const s = this.stats;
    const l1 = this.l1.stats();
    return {
      hits: s.hits,
      misses: s.misses,
      l1Hits: s.l1Hits,
      l2Hits: s.l2Hits,
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
      inFlightFetches: this.coalescer.inFlight,
      l1: { entries: l1.entries, bytes: l1.bytes, capacityBytes: l1.capacityBytes, evictions: l1.evictions },
    };
  }
}
