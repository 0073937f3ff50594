import { Module } from '@nestjs/common';
import { TIERCEL_CONFIG } from '../config/config.module';
import type { TiercelConfig } from '../config/config';
import { CacheStats } from './cache-stats';
import { HttpCache } from './http-cache';
import { MemoryTier } from './memory.tier';

@Module({
  providers: [
    CacheStats,
    {
      provide: MemoryTier,
      inject: [TIERCEL_CONFIG],
      useFactory: (c: TiercelConfig) => new MemoryTier(c.cache.sizeBytes, c.cache.maxObjectBytes),
    },
    {
      provide: HttpCache,
      inject: [MemoryTier, TIERCEL_CONFIG],
      useFactory: (l1: MemoryTier, c: TiercelConfig) => new HttpCache(l1, c.cache.maxAgeMs),
    },
  ],
  exports: [HttpCache, MemoryTier, CacheStats],
})
export class CacheModule {}
