import { Attributes, Histogram, metrics, ObservableResult } from '@opentelemetry/api';
import type { Logger } from 'pino';
import type { CacheStats } from '../cache/cache-stats';
import type { MemoryTier } from '../cache/memory.tier';
import type { RedisTier } from '../cache/redis.tier';
import type { InvalidationService } from '../invalidation/invalidation.service';
import { readRedisMemory } from './redis-info';

/** The tier that served a response. `origin`: fetched; `none`: Tiercel answered itself (errors, PURGE). */
export const TIERS = ['l1', 'l2', 'origin', 'none'] as const;
export type ServedBy = (typeof TIERS)[number];

/**
 * How a request ended, for metrics, spans and logs alike:
 * hit (fresh from a tier), stale (stale served: stale-while-revalidate, max-stale, stale-if-error),
 * revalidated (a stored object confirmed by a 304), miss (looked up, not usable: fetched or
 * served from a concurrent fetch), bypass (never looked up: other methods, PURGE), error.
 */
export const OUTCOMES = ['hit', 'stale', 'revalidated', 'miss', 'bypass', 'error'] as const;
export type Outcome = (typeof OUTCOMES)[number];

/** Sub-millisecond buckets for lookups (seconds): an L1 hit is microseconds, L2 a fraction of a millisecond. */
const LOOKUP_BUCKETS = [0.000005, 0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25];
/** Request and origin durations (seconds), from an L1 hit to a slow origin. */
const REQUEST_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

const HTTP_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'CONNECT', 'TRACE', 'PURGE']);

/**
 * Tiercel's metrics. The request path only increments plain integers (read by observable
 * instruments at scrape time) and records two histograms with attribute objects built once:
 * no label ever holds a URL, a key or any other unbounded value.
 */
export class TiercelMetrics {
  /** requests[tier][outcome], read by the tiercel.requests observable counter. */
  private readonly requests: Float64Array = new Float64Array(TIERS.length * OUTCOMES.length);
  private readonly bodyBytes: Float64Array = new Float64Array(TIERS.length);
  private readonly originErrors = new Map<string, number>();
  private readonly lookupDuration: Histogram;
  private readonly requestDuration: Histogram;
  private readonly originDuration: Histogram;
  private readonly lookupAttrs: Record<string, Attributes> = {};
  private readonly requestAttrs = new Map<string, Attributes>();
  private readonly originAttrs = new Map<number, Attributes>();

  constructor(
    stats: CacheStats,
    l1: MemoryTier,
    l2: RedisTier | null,
    invalidation: InvalidationService,
    private readonly log: Logger,
  ) {
    const meter = metrics.getMeter('tiercel');
    this.lookupDuration = meter.createHistogram('tiercel.cache.lookup.duration', {
      description: 'Time to look a request up in one cache tier',
      unit: 's',
      advice: { explicitBucketBoundaries: LOOKUP_BUCKETS },
    });
    this.requestDuration = meter.createHistogram('http.server.request.duration', {
      description: 'Duration of HTTP server requests',
      unit: 's',
      advice: { explicitBucketBoundaries: REQUEST_BUCKETS },
    });
    this.originDuration = meter.createHistogram('tiercel.origin.request.duration', {
      description: 'Time from sending a request to the origin to receiving its response headers',
      unit: 's',
      advice: { explicitBucketBoundaries: REQUEST_BUCKETS },
    });
    for (const tier of ['l1', 'l2']) for (const result of ['hit', 'miss']) this.lookupAttrs[`${tier}${result}`] = Object.freeze({ tier, result });

    meter.createObservableCounter('tiercel.requests', { description: 'Requests by the tier that served them and their cache outcome' }).addCallback((r) => {
      for (let t = 0; t < TIERS.length; t++) {
        for (let o = 0; o < OUTCOMES.length; o++) {
          const n = this.requests[t * OUTCOMES.length + o]!;
          if (n > 0) r.observe(n, { tier: TIERS[t], outcome: OUTCOMES[o] });
        }
      }
    });
    meter.createObservableCounter('tiercel.response.body.size', { description: 'Response body bytes sent, by the tier that served them', unit: 'By' }).addCallback((r) => {
      for (let t = 0; t < TIERS.length; t++) r.observe(this.bodyBytes[t]!, { tier: TIERS[t] });
    });
    meter.createObservableCounter('tiercel.origin.errors', { description: 'Origin requests that failed, by reason' }).addCallback((r) => {
      for (const [reason, n] of this.originErrors) r.observe(n, { reason });
    });
    meter.createObservableCounter('tiercel.coalesced', { description: 'Requests served from another request\'s origin fetch' }).addCallback((r) => r.observe(stats.coalesced));
    meter.createObservableCounter('tiercel.l1.evictions', { description: 'L1 entries evicted to make room' }).addCallback((r) => r.observe(l1.stats().evictions));
    meter.createObservableGauge('tiercel.l1.entries', { description: 'Entries held in L1' }).addCallback((r) => r.observe(l1.stats().entries));
    meter.createObservableGauge('tiercel.l1.size', { description: 'Bytes held in L1, headers and bodies', unit: 'By' }).addCallback((r) => r.observe(l1.stats().bytes));
    meter.createObservableGauge('tiercel.l1.capacity', { description: 'L1 capacity', unit: 'By' }).addCallback((r) => r.observe(l1.stats().capacityBytes));
    meter.createObservableCounter('tiercel.invalidations', { description: 'Invalidations this instance received from clients, by kind' }).addCallback((r) => {
      for (const [kind, n] of Object.entries(invalidation.byKind)) r.observe(n, { kind });
    });
    meter.createObservableCounter('tiercel.pubsub.messages', { description: 'Invalidation messages on Redis Pub/Sub, by direction' }).addCallback((r) => {
      const bus = invalidation.busStats();
      r.observe(bus?.sent ?? 0, { direction: 'sent' });
      r.observe(bus?.received ?? 0, { direction: 'received' });
    });
    meter.createObservableCounter('tiercel.l2.errors', { description: 'Redis calls that failed or timed out' }).addCallback((r) => r.observe(l2?.stats.errors ?? 0));
    meter.createObservableGauge('tiercel.l2.breaker.open', { description: '1 while the L2 circuit breaker skips Redis' }).addCallback((r) => r.observe(l2 && l2.breaker.state !== 'closed' ? 1 : 0));
    if (l2 !== null) {
      const used = meter.createObservableGauge('tiercel.redis.memory.used', { description: 'Redis used_memory, summed over masters', unit: 'By' });
      const max = meter.createObservableGauge('tiercel.redis.memory.max', { description: 'Redis maxmemory, summed over masters (0: no limit)', unit: 'By' });
      const evicted = meter.createObservableCounter('tiercel.redis.evicted_keys', { description: 'Keys Redis evicted under maxmemory, summed over masters' });
      meter.addBatchObservableCallback(async (r) => {
        const info = await readRedisMemory(l2).catch((err: unknown) => {
          this.log.debug({ err }, 'Redis INFO failed');
          return null;
        });
        if (info === null) return;
        r.observe(used, info.usedMemory);
        r.observe(max, info.maxMemory);
        r.observe(evicted, info.evictedKeys);
      }, [used, max, evicted]);
    }
  }

  /** Called once per request when its response ends. */
  requestEnded(method: string, status: number, tier: ServedBy, outcome: Outcome, seconds: number, bodyBytes: number): void {
    const t = TIERS.indexOf(tier);
    const o = OUTCOMES.indexOf(outcome);
    this.requests[t * OUTCOMES.length + o]!++;
    this.bodyBytes[t]! += bodyBytes;
    const m = HTTP_METHODS.has(method) ? method : '_OTHER';
    const key = `${m} ${status} ${outcome}`;
    let attrs = this.requestAttrs.get(key);
    if (attrs === undefined) {
      attrs = Object.freeze({ 'http.request.method': m, 'http.response.status_code': status, 'url.scheme': 'http', 'tiercel.cache.outcome': outcome });
      this.requestAttrs.set(key, attrs);
    }
    this.requestDuration.record(seconds, attrs);
  }

  lookup(tier: 'l1' | 'l2', hit: boolean, seconds: number): void {
    this.lookupDuration.record(seconds, this.lookupAttrs[tier + (hit ? 'hit' : 'miss')]);
  }

  originResponded(status: number, seconds: number): void {
    let attrs = this.originAttrs.get(status);
    if (attrs === undefined) {
      attrs = Object.freeze({ 'http.response.status_code': status });
      this.originAttrs.set(status, attrs);
    }
    this.originDuration.record(seconds, attrs);
  }

  originFailed(reason: string): void {
    this.originErrors.set(reason, (this.originErrors.get(reason) ?? 0) + 1);
  }
}

export type { ObservableResult };
