import { Module } from '@nestjs/common';
import { CacheModule } from '../cache/cache.module';
import { InvalidationModule } from '../invalidation/invalidation.module';
import { ProxyModule } from '../proxy/proxy.module';
import { TelemetryModule } from '../telemetry/telemetry.module';
import { TlsModule } from '../tls/tls.module';
import { CaController } from './ca.controller';
import { HealthController } from './health.controller';
import { PolicyController } from './policy.controller';
import { RunbookController } from './runbook.controller';
import { StatsController } from './stats.controller';
import { StatusPageController } from './status-page.controller';

/** The control plane on ADMIN_PORT: the status page, health, readiness, stats and the interception CA's certificate, as Nest controllers. */
@Module({
  imports: [CacheModule, ProxyModule, InvalidationModule, TelemetryModule, TlsModule],
  controllers: [StatusPageController, HealthController, StatsController, PolicyController, RunbookController, CaController],
})
export class AdminModule {}
