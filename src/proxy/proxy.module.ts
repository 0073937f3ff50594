import { Module } from '@nestjs/common';
import type { Logger } from 'pino';
import { CacheModule } from '../cache/cache.module';
import { TieredCache } from '../cache/tiered-cache';
import { LOGGER } from '../common/logger';
import type { TiercelConfig } from '../config/config';
import { TIERCEL_CONFIG } from '../config/config.module';
import { InvalidationModule } from '../invalidation/invalidation.module';
import { TelemetryModule } from '../telemetry/telemetry.module';
import type { LeafCertificates } from '../tls/certificate-authority';
import { LEAF_CERTIFICATES, TlsModule } from '../tls/tls.module';
import { ConnectTunnel } from './connect-tunnel';
import { Delivery } from './delivery';
import { FillFactory } from './fill';
import { FillLock } from './fill-lock';
import { ProxyServer } from './proxy.server';
import { RequestLifecycle } from './request-lifecycle';
import { RequestSteps } from './request-steps';
import { UpstreamClient } from './upstream.client';

@Module({
  imports: [CacheModule, InvalidationModule, TelemetryModule, TlsModule],
  providers: [
    { provide: UpstreamClient, inject: [TIERCEL_CONFIG], useFactory: (c: TiercelConfig) => new UpstreamClient(c) },
    {
      provide: FillLock,
      inject: [TIERCEL_CONFIG, TieredCache],
      useFactory: (c: TiercelConfig, cache: TieredCache) =>
        new FillLock(
          { waitTimeoutMs: c.cache.coalesceTimeoutMs, maxWaiters: c.cache.coalesceMaxWaiters, hitForPassMs: c.cache.hitForPassMs, instanceId: c.instanceId },
          cache.leases(),
        ),
    },
    {
      provide: ConnectTunnel,
      inject: [TIERCEL_CONFIG, LOGGER, LEAF_CERTIFICATES],
      useFactory: (c: TiercelConfig, l: Logger, leaves: LeafCertificates | null) => new ConnectTunnel(c, l, leaves),
    },
    Delivery,
    FillFactory,
    RequestSteps,
    RequestLifecycle,
    ProxyServer,
  ],
  exports: [ProxyServer, FillLock],
})
export class ProxyModule {}
