import { Controller, Get, Inject } from '@nestjs/common';
import { POLICY, PolicyService } from '../policy/policy.service';
import { MemoryTier } from '../cache/memory.tier';
import { TieredCache } from '../cache/tiered-cache';
import { InvalidationService } from '../invalidation/invalidation.service';
import { FillLock } from '../proxy/fill-lock';
import { RequestCounters } from '../telemetry/request-counters';
import { RequestTail } from '../telemetry/request-tail';

@Controller()
export class StatsController {
  constructor(
    private readonly counters: RequestCounters,
    private readonly l1: MemoryTier,
    private readonly cache: TieredCache,
    private readonly lock: FillLock,
    private readonly invalidation: InvalidationService,
    @Inject(POLICY) private readonly policy: PolicyService,
    private readonly tail: RequestTail,
  ) {}

  /** Counters since start, computed from the same counters as /metrics, plus each tier's state. */
  @Get('stats')
  get() {
    const s = this.counters.stats();
    const l1 = this.l1.stats();
    const health = this.cache.health();
    const l2 = health.find((h) => h.name === 'l2');
    const peers = health.find((h) => h.name === 'l1-peers');
    const l2d = l2?.details as Record<string, number> | undefined;
    const byKind = this.invalidation.byKind();
    return {
      hits: s.hits,
      misses: s.misses,
      l1Hits: s.l1Hits,
      l2Hits: s.l2Hits,
      l2Misses: l2d?.misses ?? 0,
      l2Errors: l2?.errors ?? 0,
      hitRate: s.hitRate,
      coalesced: s.coalesced,
      revalidations: s.revalidations,
      staleServed: s.staleServed,
      passes: s.passes,
      stores: s.stores,
      incompleteBodies: s.incompleteBodies,
      upstreamErrors: s.upstreamErrors,
      originRetries: s.originRetries,
      backgroundRefreshes: s.backgroundRefreshes,
      backgroundRefreshErrors: s.backgroundRefreshErrors,
      invalidations: byKind.urls + byKind.pattern + byKind.tags + byKind.all,
      invalidationsByKind: byKind,
      invalidationsReceived: this.invalidation.remoteApplied,
      inFlightFetches: this.lock.inFlight,
      openConnections: this.counters.openConnections,
      activeRequests: this.counters.activeRequests,
      l1: { entries: l1.entries, bytes: l1.bytes, capacityBytes: l1.capacityBytes, evictions: l1.evictions },
      // With several workers: this worker's misses looked up in the others' L1 (lookups), and found there (hits).
      ...(peers === undefined ? {} : { l1Peers: peers.details }),
      l2: l2 === undefined ? null : { state: l2.state, ...l2.details },
      bus: this.invalidation.busStats(),
      policy: this.policy.describe(),
      tail: { listeners: this.tail.listenerCount, dropped: this.tail.dropped },
    };
  }
}
