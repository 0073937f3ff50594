import { Module } from '@nestjs/common';
import type { Logger } from 'pino';
import { CacheModule } from '../cache/cache.module';
import { InvalidationModule } from '../invalidation/invalidation.module';
import { InvalidationService } from '../invalidation/invalidation.service';
import { RequestTelemetry } from '../telemetry/request-telemetry';
import { TelemetryModule } from '../telemetry/telemetry.module';
import { CacheStats } from '../cache/cache-stats';
import { HttpCache } from '../cache/http-cache';
import { LOGGER } from '../common/logger';
import type { TiercelConfig } from '../config/config';
import { TIERCEL_CONFIG } from '../config/config.module';
import { Coalescer } from './coalescer';
import { ConnectTunnel } from './connect-tunnel';
import { ProxyServer } from './proxy.server';
import { RequestLifecycle } from './request-lifecycle';
import { UpstreamClient } from './upstream.client';

@Module({
  imports: [CacheModule, InvalidationModule, TelemetryModule],
  providers: [
    { provide: UpstreamClient, inject: [TIERCEL_CONFIG], useFactory: (c: TiercelConfig) => new UpstreamClient(c) },
    {
      provide: Coalescer,
      inject: [TIERCEL_CONFIG],
      useFactory: (c: TiercelConfig) => new Coalescer(c.cache.coalesceTimeoutMs, c.cache.coalesceMaxWaiters, c.cache.hitForPassMs),
    },
    { provide: ConnectTunnel, inject: [TIERCEL_CONFIG, LOGGER], useFactory: (c: TiercelConfig, l: Logger) => new ConnectTunnel(c, l) },
    {
      provide: RequestLifecycle,
      inject: [TIERCEL_CONFIG, HttpCache, CacheStats, UpstreamClient, Coalescer, InvalidationService, RequestTelemetry, LOGGER],
      useFactory: (c: TiercelConfig, cache: HttpCache, stats: CacheStats, up: UpstreamClient, co: Coalescer, inv: InvalidationService, t: RequestTelemetry, l: Logger) =>
        new RequestLifecycle(c, cache, stats, up, co, inv, t, l),
    },
    ProxyServer,
  ],
  exports: [ProxyServer, Coalescer],
})
export class ProxyModule {}
