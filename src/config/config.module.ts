import { DynamicModule, Global, Module } from '@nestjs/common';
import type { Logger } from 'pino';
import { LOGGER } from '../common/logger';
import type { TelemetryHandle } from '../telemetry/otel-sdk';
import { TiercelConfig } from './config';
import { POLICY, PolicyService } from '../policy/policy.service';
import { Reloaders } from '../reload';

/** Injection token for the validated TiercelConfig. */
export const TIERCEL_CONFIG = Symbol('TIERCEL_CONFIG');
/** Injection token for what the OpenTelemetry SDK start-up produced (the Prometheus reader). */
export const TELEMETRY_HANDLE = Symbol('TELEMETRY_HANDLE');

/**
 * Binds the configuration that was validated before Nest started (so a bad value never
 * reaches a provider), and the process's logger.
 */
@Global()
@Module({})
export class ConfigModule {
  static forRoot(config: TiercelConfig, logger: Logger, telemetry: TelemetryHandle, policy: PolicyService, reloaders: Reloaders): DynamicModule {
    return {
      module: ConfigModule,
      providers: [
        { provide: TIERCEL_CONFIG, useValue: config },
        { provide: LOGGER, useValue: logger },
        { provide: TELEMETRY_HANDLE, useValue: telemetry },
        { provide: POLICY, useValue: policy },
        { provide: Reloaders, useValue: reloaders },
      ],
      exports: [TIERCEL_CONFIG, LOGGER, TELEMETRY_HANDLE, POLICY, Reloaders],
    };
  }
}
