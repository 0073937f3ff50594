import { Module } from '@nestjs/common';
import { TIERCEL_CONFIG } from '../config/config.module';
import type { TiercelConfig } from '../config/config';
import { VALIDATOR_RETENTION_MS } from './cached-response';
import { MemoryTier } from './memory.tier';
import { RedisTierHolder } from './redis-tier.provider';
import { TieredCache } from './tiered-cache';
import { cacheTiers } from '../cluster/worker';

@Module({
  providers: [
    RedisTierHolder,
    {
      provide: MemoryTier,
      inject: [TIERCEL_CONFIG],
      useFactory: (c: TiercelConfig) => new MemoryTier(c.cache.sizeBytes, c.cache.maxObjectBytes, VALIDATOR_RETENTION_MS),
    },
    {
      provide: TieredCache,
      inject: [MemoryTier, RedisTierHolder, TIERCEL_CONFIG],
      useFactory: (l1: MemoryTier, l2: RedisTierHolder, c: TiercelConfig) => new TieredCache(cacheTiers(c, l1, l2.tier)),
    },
  ],
  exports: [TieredCache, MemoryTier, RedisTierHolder],
})
export class CacheModule {}
