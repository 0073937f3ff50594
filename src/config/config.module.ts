import { DynamicModule, Global, Module } from '@nestjs/common';
import type { Logger } from 'pino';
import { LOGGER } from '../common/logger';
import { TiercelConfig } from './config';

/** Injection token for the validated TiercelConfig. */
export const TIERCEL_CONFIG = Symbol('TIERCEL_CONFIG');

/**
 * Binds the configuration that was validated before Nest started (so a bad value never
 * reaches a provider), and the process's logger.
 */
@Global()
@Module({})
export class ConfigModule {
  static forRoot(config: TiercelConfig, logger: Logger): DynamicModule {
    return {
      module: ConfigModule,
      providers: [
        { provide: TIERCEL_CONFIG, useValue: config },
        { provide: LOGGER, useValue: logger },
      ],
      exports: [TIERCEL_CONFIG, LOGGER],
    };
  }
}
