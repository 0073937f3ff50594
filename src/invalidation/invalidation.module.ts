import { Inject, Injectable, Module, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import type { Logger } from 'pino';
import { CacheModule } from '../cache/cache.module';
import { RedisTierHolder } from '../cache/redis-tier.provider';
import { TieredCache } from '../cache/tiered-cache';
import { LOGGER } from '../common/logger';
import type { TiercelConfig } from '../config/config';
import { TIERCEL_CONFIG } from '../config/config.module';
import { createRedisClient } from '../redis/redis.client';
import { busSenderId, workerContext } from '../cluster/worker';
import { InvalidationBus } from './invalidation.bus';
import { InvalidationController } from './invalidation.controller';
import { InvalidationService } from './invalidation.service';

/** Starts listening for other instances' invalidations once the app is up, and stops at shutdown. */
@Injectable()
class InvalidationLifecycle implements OnApplicationBootstrap, OnApplicationShutdown {
  constructor(private readonly service: InvalidationService) {}
  onApplicationBootstrap(): void {
    this.service.start();
  }
  onApplicationShutdown(): Promise<void> {
    return this.service.close();
  }
}

@Module({
  imports: [CacheModule],
  providers: [
    {
      provide: InvalidationService,
      inject: [TIERCEL_CONFIG, TieredCache, RedisTierHolder, LOGGER],
      useFactory: (c: TiercelConfig, cache: TieredCache, redis: RedisTierHolder, log: Logger) => {
        let bus: InvalidationBus | null = null;
        if (c.redis !== null && redis.client !== null) {
          const subscriber = createRedisClient(c.redis, 'subscriber');
          subscriber.on('error', (err: Error) => log.debug({ err }, 'redis subscriber error'));
          bus = new InvalidationBus(redis.client, subscriber, `${c.redis.keyPrefix}invalidate`, busSenderId(c.instanceId), log, `${c.redis.keyPrefix}invalidation:seq`, 400, c.redis.timeoutMs);
          if (workerContext() !== null) bus.siblingPrefix = `${c.instanceId}#`;
        }
        return new InvalidationService(cache, bus, log);
      },
    },
    InvalidationLifecycle,
  ],
  controllers: [InvalidationController],
  exports: [InvalidationService],
})
export class InvalidationModule {}
