import { Module } from '@nestjs/common';
import type { Logger } from 'pino';
import { CacheModule } from '../cache/cache.module';
import { LOGGER } from '../common/logger';
import type { TiercelConfig } from '../config/config';
import { TELEMETRY_HANDLE, TIERCEL_CONFIG } from '../config/config.module';
import { InvalidationModule } from '../invalidation/invalidation.module';
import type { TelemetryHandle } from './otel-sdk';
import { MetricsController } from './metrics.controller';
import { RequestCounters } from './request-counters';
import { RecentController } from './recent.controller';
import { RecentRequests } from './recent-requests';
import { RequestTail } from './request-tail';
import { RequestTelemetry } from './request-telemetry';
import { TailController } from './tail.controller';
import { TiercelMetrics } from './tiercel-metrics';

/**
 * Metric instruments, per-request spans and /metrics. The OpenTelemetry SDK itself is started
 * by main before Nest (TELEMETRY_HANDLE); without it every instrument is a no-op, and the
 * request counters behind /stats still count.
 */
@Module({
  imports: [CacheModule, InvalidationModule],
  providers: [
    { provide: RequestCounters, inject: [TELEMETRY_HANDLE], useFactory: (t: TelemetryHandle) => t.hot?.counters ?? new RequestCounters() },
    TiercelMetrics,
    { provide: RequestTail, useFactory: () => new RequestTail() },
    { provide: RecentRequests, inject: [RequestTail], useFactory: (tail: RequestTail) => new RecentRequests(tail) },
    {
      provide: RequestTelemetry,
      inject: [TIERCEL_CONFIG, TELEMETRY_HANDLE, RequestCounters, LOGGER, RequestTail],
      useFactory: (c: TiercelConfig, t: TelemetryHandle, counters: RequestCounters, log: Logger, tail: RequestTail) => new RequestTelemetry(c, t.hot, counters, log, tail),
    },
  ],
  controllers: [MetricsController, TailController, RecentController],
  exports: [RequestTelemetry, TiercelMetrics, RequestCounters, RequestTail, RecentRequests],
})
export class TelemetryModule {}
