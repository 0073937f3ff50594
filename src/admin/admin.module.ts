import { Module } from '@nestjs/common';
import { CacheModule } from '../cache/cache.module';
import { InvalidationModule } from '../invalidation/invalidation.module';
import { ProxyModule } from '../proxy/proxy.module';
import { TelemetryModule } from '../telemetry/telemetry.module';
import { HealthController } from './health.controller';
import { PolicyController } from './policy.controller';
import { RunbookController } from './runbook.controller';
import { StatsController } from './stats.controller';

/** The control plane on ADMIN_PORT: health, readiness and stats, as Nest controllers. */
@Module({
  imports: [CacheModule, ProxyModule, InvalidationModule, TelemetryModule],
  controllers: [HealthController, StatsController, PolicyController, RunbookController],
})
export class AdminModule {}
