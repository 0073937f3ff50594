import { Module } from '@nestjs/common';
import type { Logger } from 'pino';
import { CacheModule } from '../cache/cache.module';
import { CacheStats } from '../cache/cache-stats';
import { MemoryTier } from '../cache/memory.tier';
import { RedisTierHolder } from '../cache/redis-tier.provider';
import { LOGGER } from '../common/logger';
import type { TiercelConfig } from '../config/config';
import { TELEMETRY_HANDLE, TIERCEL_CONFIG } from '../config/config.module';
import type { TelemetryHandle } from './otel-sdk';
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
      inject: [TIERCEL_CONFIG, TELEMETRY_HANDLE, LOGGER],
      useFactory: (c: TiercelConfig, t: TelemetryHandle, log: Logger) => new RequestTelemetry(c, t.hot, log),
    },
  ],
  controllers: [MetricsController],
  exports: [RequestTelemetry, TiercelMetrics],
})
export class TelemetryModule {}
