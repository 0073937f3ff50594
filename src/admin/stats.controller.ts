import { Controller, Get, Inject } from '@nestjs/common';
import { performance } from 'node:perf_hooks';
import { POLICY, PolicyService } from '../policy/policy.service';
import { MemoryTier } from '../cache/memory.tier';
import { RedisTierHolder } from '../cache/redis-tier.provider';
import type { RedisMemory } from '../cache/redis.tier';
import { TieredCache } from '../cache/tiered-cache';
import { TIERCEL_VERSION } from '../common/version';
import type { TiercelConfig } from '../config/config';
import { TELEMETRY_HANDLE, TIERCEL_CONFIG } from '../config/config.module';
import { InvalidationService } from '../invalidation/invalidation.service';
import { FillLock } from '../proxy/fill-lock';
import { ProxyServer } from '../proxy/proxy.server';
import type { CaMaterial } from '../tls/certificate-authority';
import { INTERCEPTION_CA } from '../tls/tls.module';
import type { TelemetryHandle } from '../telemetry/otel-sdk';
import { RequestCounters } from '../telemetry/request-counters';
import { RequestTail } from '../telemetry/request-tail';

/** Redis INFO is read at most this often for /stats, and never waited for. */
const REDIS_MEMORY_EVERY_MS = 5000;
const REDIS_MEMORY_TIMEOUT_MS = 2000;

@Controller()
export class StatsController {
  private readonly startedAt = Date.now();
  private redisMemory: (RedisMemory & { readAt: string }) | null = null;
  private redisMemoryTried = 0;
  private redisMemoryReading = false;

  constructor(
    @Inject(TIERCEL_CONFIG) private readonly config: TiercelConfig,
    @Inject(TELEMETRY_HANDLE) private readonly telemetry: TelemetryHandle,
    private readonly counters: RequestCounters,
    private readonly l1: MemoryTier,
    private readonly cache: TieredCache,
    private readonly redis: RedisTierHolder,
    private readonly lock: FillLock,
    private readonly invalidation: InvalidationService,
    @Inject(POLICY) private readonly policy: PolicyService,
    private readonly tail: RequestTail,
    private readonly proxy: ProxyServer,
    @Inject(INTERCEPTION_CA) private readonly ca: CaMaterial | null,
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
    const origin = this.telemetry.hot?.originWait() ?? null;
    const now = Date.now();
    const cpu = process.cpuUsage();
    const elu = performance.eventLoopUtilization();
    return {
      instance: {
        id: this.config.instanceId,
        version: TIERCEL_VERSION,
        node: process.version,
        pid: process.pid,
        mode: this.proxy.mode,
        // CONNECT tunnels are intercepted: clients need /ca.crt to trust them.
        interception: this.ca !== null,
        startedAt: new Date(this.startedAt).toISOString(),
        uptimeSeconds: Math.round((now - this.startedAt) / 1000),
      },
      process: {
        cpuSeconds: (cpu.user + cpu.system) / 1e6,
        rssBytes: process.memoryUsage.rss(),
        heapUsedBytes: process.memoryUsage().heapUsed,
        eventLoopActiveMs: Math.round(elu.active),
        eventLoopIdleMs: Math.round(elu.idle),
      },
      requests: s.requests,
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
      origin: {
        errorsByReason: Object.fromEntries(this.counters.originErrors),
        responses: origin === null ? null : { count: origin.count, status5xx: origin.status5xx, sumSeconds: origin.sumSeconds, buckets: { boundaries: origin.boundaries, counts: origin.counts } },
      },
      l1: { entries: l1.entries, bytes: l1.bytes, capacityBytes: l1.capacityBytes, evictions: l1.evictions },
      // With several workers: this worker's misses looked up in the others' L1 (lookups), and found there (hits).
      ...(peers === undefined ? {} : { l1Peers: peers.details }),
      l2: l2 === undefined ? null : { state: l2.state, ...l2.details, memory: this.l2Memory() },
      bus: this.invalidation.busStats(),
      policy: this.policy.describe(),
      tail: { listeners: this.tail.listenerCount, dropped: this.tail.dropped },
    };
  }

  /**
   * Redis memory from INFO as last read: a read is started when the figure is older than
   * REDIS_MEMORY_EVERY_MS, so /stats never waits on Redis and a scrape every second costs
   * Redis one INFO every five.
   */
  private l2Memory(): (RedisMemory & { readAt: string }) | null {
    const tier = this.redis.tier;
    const now = Date.now();
    if (tier === null || this.redisMemoryReading || now - this.redisMemoryTried < REDIS_MEMORY_EVERY_MS) return this.redisMemory;
    this.redisMemoryReading = true;
    this.redisMemoryTried = now;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<null>((r) => {
      timer = setTimeout(() => r(null), REDIS_MEMORY_TIMEOUT_MS);
      timer.unref();
    });
    Promise.race([tier.memory(), timeout])
      .then(
        (m) => (this.redisMemory = m === null ? null : { ...m, readAt: new Date().toISOString() }),
        () => (this.redisMemory = null),
      )
      .finally(() => {
        clearTimeout(timer);
        this.redisMemoryReading = false;
      });
    return this.redisMemory;
  }
}
