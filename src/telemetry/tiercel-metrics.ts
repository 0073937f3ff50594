import { Inject, Injectable } from '@nestjs/common';
import { metrics } from '@opentelemetry/api';
import { readdirSync } from 'node:fs';
import type { Logger } from 'pino';
import { MemoryTier } from '../cache/memory.tier';
import { RedisTierHolder } from '../cache/redis-tier.provider';
import { TieredCache } from '../cache/tiered-cache';
import { LOGGER } from '../common/logger';
import { TIERCEL_VERSION } from '../common/version';
import { InvalidationService } from '../invalidation/invalidation.service';
import { RequestCounters } from './request-counters';
import { OUTCOMES } from '../proxy/request-record';
import { POLICY, PolicyService } from '../policy/policy.service';

/**
 * Tiercel's state as metrics, read at scrape time: L1 and L2, coalescing, invalidation and
 * Pub/Sub counters, and Redis memory from INFO. The per-request metrics live in
 * HotPathMetrics. No label ever holds a URL, a key or any other unbounded value.
 */
@Injectable()
export class TiercelMetrics {
  constructor(
    counters: RequestCounters,
    l1: MemoryTier,
    cache: TieredCache,
    redis: RedisTierHolder,
    invalidation: InvalidationService,
    @Inject(LOGGER) private readonly log: Logger,
    @Inject(POLICY) policy: PolicyService,
  ) {
    const meter = metrics.getMeter('tiercel');
    // The operator policy, when there is a file: requests by rule (a label bounded by the rules
    // loaded) and outcome, the file in force, its reloads.
    if (policy.file !== null) {
      meter.createObservableCounter('tiercel.rule.requests', { description: 'Requests that matched a policy rule, by rule name (#N when unnamed) and cache outcome' }).addCallback((r) => {
        for (const [rule, counts] of policy.ruleCounts) OUTCOMES.forEach((outcome, i) => counts[i]! > 0 && r.observe(counts[i]!, { rule, outcome }));
      });
      meter.createObservableGauge('tiercel.policy.loaded_timestamp', { description: 'When the policy file in force was loaded (Unix seconds)', unit: 's' }).addCallback((r) => r.observe(policy.current.loadedAt / 1000));
      meter.createObservableGauge('tiercel.policy.info', { description: 'The policy file in force: 1, with its sha256 as the hash label' }).addCallback((r) => {
        if (policy.current.source !== null) r.observe(1, { hash: policy.current.source.hash });
      });
      meter.createObservableCounter('tiercel.policy.reloads', { description: 'Policy file reloads, by result (ok, refused)' }).addCallback((r) => {
        r.observe(policy.reloads.ok, { result: 'ok' });
        r.observe(policy.reloads.failed, { result: 'refused' });
      });
    }
    meter.createObservableGauge('tiercel.build.info', { description: 'Always 1: the Tiercel version and the Node.js running it, as labels' }).addCallback((r) => r.observe(1, { version: TIERCEL_VERSION, nodejs_version: process.version }));
    meter.createObservableUpDownCounter('http.server.active_requests', { description: 'Requests on the data port not yet finished', unit: '{request}' }).addCallback((r) => r.observe(counters.activeRequests, { 'url.scheme': 'http' }));
    meter.createObservableUpDownCounter('tiercel.connections.open', { description: 'Client connections open on the data port, idle keep-alive ones included', unit: '{connection}' }).addCallback((r) => r.observe(counters.openConnections));
    if (process.platform === 'linux') {
      // Neither runtime-node nor host-metrics reads descriptors; /proc is the one place that knows.
      meter.createObservableUpDownCounter('process.unix.file_descriptor.count', { description: 'File descriptors open in this process', unit: '{file_descriptor}' }).addCallback((r) => {
        try {
          r.observe(readdirSync('/proc/self/fd').length);
        } catch {
          // /proc unreadable (a sandbox): no sample rather than a wrong one
        }
      });
    }
    const l2Health = () => cache.health().find((h) => h.name === 'l2');
    meter.createObservableCounter('tiercel.coalesced', { description: 'Requests served from another request\'s origin fetch' }).addCallback((r) => r.observe(counters.phase('collapsed')));
    meter.createObservableCounter('tiercel.l1.evictions', { description: 'L1 entries evicted to make room' }).addCallback((r) => r.observe(l1.stats().evictions));
    meter.createObservableGauge('tiercel.l1.entries', { description: 'Entries held in L1' }).addCallback((r) => r.observe(l1.stats().entries));
    meter.createObservableGauge('tiercel.l1.size', { description: 'Bytes held in L1, headers and bodies', unit: 'By' }).addCallback((r) => r.observe(l1.stats().bytes));
    meter.createObservableGauge('tiercel.l1.capacity', { description: 'L1 capacity', unit: 'By' }).addCallback((r) => r.observe(l1.stats().capacityBytes));
    meter.createObservableCounter('tiercel.invalidations', { description: 'Invalidations started on this instance, by kind and source (admin, purge, unsafe-method)' }).addCallback((r) => {
      for (const c of invalidation.countsByKindAndSource()) r.observe(c.count, { kind: c.kind, source: c.source });
    });
    meter.createObservableCounter('tiercel.pubsub.messages', { description: 'Invalidation messages on Redis Pub/Sub, by direction' }).addCallback((r) => {
      const bus = invalidation.busStats();
      r.observe(bus?.sent ?? 0, { direction: 'sent' });
      r.observe(bus?.received ?? 0, { direction: 'received' });
    });
    meter.createObservableCounter('tiercel.invalidation.resyncs', { description: 'L1 flushed because invalidation messages may have been missed: the Pub/Sub subscription dropped, or the sequence in Redis was ahead of every message heard' }).addCallback((r) => {
      const bus = invalidation.busStats();
      r.observe(bus?.resyncs ?? 0, { reason: 'subscription-lost' });
      r.observe(bus?.gapFlushes ?? 0, { reason: 'sequence-gap' });
    });
    meter.createObservableCounter('tiercel.l2.errors', { description: 'Redis calls that failed or timed out' }).addCallback((r) => r.observe(l2Health()?.errors ?? 0));
    meter.createObservableGauge('tiercel.l2.breaker.open', { description: '1 while the L2 circuit breaker skips Redis' }).addCallback((r) => r.observe(redis.tier?.breakerOpen ? 1 : 0));
    const l2 = redis.tier;
    if (l2 !== null) {
      const used = meter.createObservableGauge('tiercel.redis.memory.used', { description: 'Redis used_memory, summed over masters', unit: 'By' });
      const max = meter.createObservableGauge('tiercel.redis.memory.max', { description: 'Redis maxmemory, summed over masters (0: no limit)', unit: 'By' });
      const evicted = meter.createObservableCounter('tiercel.redis.evicted_keys', { description: 'Keys Redis evicted under maxmemory, summed over masters' });
      meter.addBatchObservableCallback(async (r) => {
        const info = await l2.memory().catch((err: unknown) => {
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
}
