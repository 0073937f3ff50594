import Redis, { Cluster, RedisOptions } from 'ioredis';
import type { RedisConfig } from '../config/config';

export type RedisClient = Redis | Cluster;

/**
 * Builds the ioredis client for the configured topology. Every command has a timeout and
 * nothing queues while Redis is away: a request never waits on a Redis that is not there.
 */
export function createRedisClient(config: RedisConfig, role: 'commands' | 'subscriber'): RedisClient {
  const common: RedisOptions = {
    password: config.password ?? undefined,
    // RESP2 keeps Pub/Sub on its own connection and works with every Redis 6+ server.
    protocol: 2,
    commandTimeout: role === 'commands' ? config.timeoutMs : undefined,
    connectTimeout: Math.max(config.timeoutMs * 4, 1000),
    enableOfflineQueue: role === 'subscriber',
    maxRetriesPerRequest: role === 'commands' ? 0 : null,
    lazyConnect: false,
    // Reconnect quickly but not in a tight loop: 50 ms doubling to 500 ms. After a failover the
    // new master is usually reachable within a second; a longer back-off only lengthens the outage.
    retryStrategy: (times) => Math.min(50 * 2 ** Math.min(times, 4), 500),
  };
  const t = config.topology;
  if (t.kind === 'cluster') {
    return new Cluster(
      t.nodes.map((n) => ({ host: n.host, port: n.port })),
      {
        enableOfflineQueue: role === 'subscriber',
        enableAutoPipelining: role === 'commands',
        scaleReads: 'master',
        clusterRetryStrategy: (times) => Math.min(100 * 2 ** Math.min(times, 3), 500),
        slotsRefreshTimeout: Math.max(config.timeoutMs * 4, 1000),
        redisOptions: {
          password: common.password,
          protocol: 2,
          commandTimeout: common.commandTimeout,
          connectTimeout: common.connectTimeout,
          maxRetriesPerRequest: common.maxRetriesPerRequest,
        },
      },
    );
  }
  if (t.kind === 'sentinel') {
    return new Redis({
      ...common,
      db: config.db,
      sentinels: t.sentinels.map((s) => ({ host: s.host, port: s.port })),
      name: t.master,
      sentinelPassword: t.sentinelPassword ?? undefined,
      enableAutoPipelining: role === 'commands',
      sentinelRetryStrategy: (times) => Math.min(100 * 2 ** Math.min(times, 3), 500),
    });
  }
  return new Redis({
    ...common,
    host: t.host,
    port: t.port,
    username: t.username ?? undefined,
    db: config.db,
    tls: t.tls ? {} : undefined,
    enableAutoPipelining: role === 'commands',
  });
}

/** Waits until the client is ready, or gives up after `ms` (Tiercel then starts degraded). */
export function whenReady(client: RedisClient, ms: number): Promise<boolean> {
  if (client.status === 'ready') return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      client.off('ready', onReady);
      resolve(false);
    }, ms);
    const onReady = () => {
      clearTimeout(timer);
      resolve(true);
    };
    client.once('ready', onReady);
  });
}
