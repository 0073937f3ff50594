import { Module } from '@nestjs/common';
import { TIERCEL_CONFIG } from '../config/config.module';
import type { TiercelConfig } from '../config/config';
import { CacheStats } from './cache-stats';
import { HttpCache } from './http-cache';
import { MemoryTier } from './memory.tier';
import { RedisTierHolder } from './redis-tier.provider';

@Module({
  providers: [
    CacheStats,
    RedisTierHolder,
    {
      provide: MemoryTier,
      inject: [TIERCEL_CONFIG],
      useFactory: (c: TiercelConfig) => new MemoryTier(c.cache.sizeBytes, c.cache.maxObjectBytes),
    },
    {
      provide: HttpCache,
      inject: [MemoryTier, TIERCEL_CONFIG, RedisTierHolder],
      useFactory: (l1: MemoryTier, c: TiercelConfig, l2: RedisTierHolder) => new HttpCache(l1, c.cache.maxAgeMs, l2.tier),
    },
  ],
  exports: [HttpCache, MemoryTier, CacheStats, RedisTierHolder],
})
export class CacheModule {}
