import { Module } from '@nestjs/common';
import type { Logger } from 'pino';
import { CacheModule } from '../cache/cache.module';
import { CacheStats } from '../cache/cache-stats';
import { MemoryTier } from '../cache/memory.tier';
import { RedisTierHolder } from '../cache/redis-tier.provider';
import { LOGGER } from '../common/logger';
import type { TiercelConfig } from '../config/config';
import { TIERCEL_CONFIG } from '../config/config.module';
import { InvalidationModule } from '../invalidation/invalidation.module';
import { InvalidationService } from '../invalidation/invalidation.service';
import { MetricsController } from './metrics.controller';
import { RequestTelemetry } from './request-telemetry';
import { TiercelMetrics } from './tiercel-metrics';

/**
 * Metric instruments, per-request spans and /metrics. The OpenTelemetry SDK itself is started
 * by main before Nest (TELEMETRY_HANDLE); without it every instrument is a no-op.
 */
@Module({
  imports: [CacheModule, InvalidationModule],
  providers: [
    {
      provide: TiercelMetrics,
      inject: [CacheStats, MemoryTier, RedisTierHolder, InvalidationService, LOGGER],
      useFactory: (stats: CacheStats, l1: MemoryTier, l2: RedisTierHolder, inv: InvalidationService, log: Logger) => new TiercelMetrics(stats, l1, l2.tier, inv, log),
    },
    {
      provide: RequestTelemetry,
      inject: [TIERCEL_CONFIG, TiercelMetrics, LOGGER],
      useFactory: (c: TiercelConfig, m: TiercelMetrics, log: Logger) => new RequestTelemetry(c, m, log),
    },
  ],
  controllers: [MetricsController],
  exports: [RequestTelemetry, TiercelMetrics],
})
export class TelemetryModule {}
