import { DynamicModule, Module } from '@nestjs/common';
import type { Logger } from 'pino';
import { AdminModule } from './admin/admin.module';
import { CacheModule } from './cache/cache.module';
import type { TiercelConfig } from './config/config';
import { ConfigModule } from './config/config.module';
import { InvalidationModule } from './invalidation/invalidation.module';
import { ProxyModule } from './proxy/proxy.module';
import type { TelemetryHandle } from './telemetry/otel-sdk';
import { TelemetryModule } from './telemetry/telemetry.module';
import type { PolicyService } from './policy/policy.service';
import type { Reloaders } from './reload';

@Module({})
export class AppModule {
  static forRoot(config: TiercelConfig, logger: Logger, telemetry: TelemetryHandle, policy: PolicyService, reloaders: Reloaders): DynamicModule {
    return {
      module: AppModule,
      imports: [ConfigModule.forRoot(config, logger, telemetry, policy, reloaders), CacheModule, InvalidationModule, TelemetryModule, ProxyModule, AdminModule],
    };
  }
}
