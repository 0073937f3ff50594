import type { Cluster, Redis } from 'ioredis';
import type { RedisTier } from '../cache/redis.tier';

export interface RedisMemory {
  usedMemory: number;
  maxMemory: number;
  evictedKeys: number;
}

function field(info: string, name: string): number {
  const m = new RegExp(`^${name}:(\\d+)`, 'm').exec(info);
  return m ? Number(m[1]) : 0;
}

/** Redis memory figures from INFO, summed over every master, so the Redis panels work without redis_exporter. */
export async function readRedisMemory(tier: RedisTier): Promise<RedisMemory | null> {
  if (tier.breaker.state !== 'closed') return null;
  const client = tier.client;
  const nodes: Redis[] = (client as Cluster).isCluster ? (client as Cluster).nodes('master') : [client as Redis];
  const out: RedisMemory = { usedMemory: 0, maxMemory: 0, evictedKeys: 0 };
  for (const node of nodes) {
    const [memory, stats] = await Promise.all([node.info('memory'), node.info('stats')]);
    out.usedMemory += field(memory, 'used_memory');
    out.maxMemory += field(memory, 'maxmemory');
    out.evictedKeys += field(stats, 'evicted_keys');
  }
  return out;
}
