import { Inject, Injectable, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import type { Logger } from 'pino';
import { LOGGER } from '../common/logger';
import { deliveryHeaders, TiercelConfig } from '../config/config';
import { TIERCEL_CONFIG } from '../config/config.module';
import { createRedisClient, whenReady } from '../redis/redis.client';
import { RedisTier } from './redis.tier';
import { deliverySlots } from './cached-response';
import type { RedisClient } from '../redis/redis.client';

/**
 * Owns the L2 tier's lifetime: connects at start (starting degraded, not failing, when Redis
 * is away), probes Redis while the breaker is open, and disconnects at shutdown.
 */
@Injectable()
export class RedisTierHolder implements OnApplicationBootstrap, OnApplicationShutdown {
  readonly tier: RedisTier | null;
  /** The commands connection, shared with the invalidation bus for publishing. */
  readonly client: RedisClient | null;
  private probe: NodeJS.Timeout | null = null;

  constructor(@Inject(TIERCEL_CONFIG) private readonly config: TiercelConfig, @Inject(LOGGER) private readonly log: Logger) {
    const redis = config.redis;
    if (redis === null) {
      this.tier = null;
      this.client = null;
      return;
    }
    const client = createRedisClient(redis, 'commands');
    client.on('error', (err: Error) => log.debug({ err }, 'redis connection error'));
    this.client = client;
    this.tier = new RedisTier(client, redis, deliverySlots(deliveryHeaders(config)), config.cache.maxAgeMs, (state) =>
      log.warn({ state }, `L2 circuit breaker ${state}`),
    );
  }

  async onApplicationBootstrap(): Promise<void> {
    const tier = this.tier;
    if (tier === null) return;
    const ready = await whenReady(tier.client, Math.max(2000, this.config.redis!.timeoutMs * 8));
    if (!ready) this.log.warn({ topology: this.config.redis!.topology.kind }, 'Redis not reachable at start: serving from L1 and the origin until it is');
    else this.log.info({ topology: this.config.redis!.topology.kind }, 'L2 connected');
    // While the breaker is open, a probe closes it again without waiting for traffic to try.
    this.probe = setInterval(() => {
      if (tier.breaker.state !== 'closed') void tier.ping();
    }, Math.max(250, Math.floor(this.config.redis!.breakerCooldownMs / 2)));
    this.probe.unref();
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.probe) clearInterval(this.probe);
    this.tier?.client.disconnect();
  }
}
