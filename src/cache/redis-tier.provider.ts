import { Inject, Injectable, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import type { Logger } from 'pino';
import { LOGGER } from '../common/logger';
import { deliveryHeaders, TiercelConfig } from '../config/config';
import { TIERCEL_CONFIG } from '../config/config.module';
import { createRedisClient, whenReady } from '../redis/redis.client';
import { RedisTier } from './redis.tier';
import { deliverySlots, VALIDATOR_RETENTION_MS } from './cached-response';
import type { RedisClient } from '../redis/redis.client';

/** How long start-up waits for Redis before opening the ports without it. */
const START_WAIT_MS = 750;

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
    const tier: RedisTier = new RedisTier(client, redis, deliverySlots(deliveryHeaders(config)), VALIDATOR_RETENTION_MS, (state) =>
      log.warn({ state, cause: state === 'open' ? tier.lastError : undefined }, `L2 circuit breaker ${state}`),
    );
    this.tier = tier;
  }

  async onApplicationBootstrap(): Promise<void> {
    const tier = this.tier;
    if (tier === null) return;
    // Start-up waits a moment for Redis, never longer: the ports open within a second, and L2
    // joins whenever Redis answers.
    const topology = this.config.redis!.topology.kind;
    if (await whenReady(tier.client, START_WAIT_MS)) {
      this.log.info({ topology }, 'L2 connected');
    } else {
      this.log.warn({ topology }, 'Redis not reachable at start: serving from L1 and the origin until it is');
      tier.client.once('ready', () => this.log.info({ topology }, 'L2 connected'));
    }
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
