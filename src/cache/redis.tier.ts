import { createHash } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';
import type { RedisConfig } from '../config/config';
import { compileGlob } from '../invalidation/glob';
import type { InvalidationTarget } from '../invalidation/invalidation';
import { BreakerState, CircuitBreaker } from '../redis/circuit-breaker';
import type { RedisClient } from '../redis/redis.client';
import type { Cluster as ClusterClient } from 'ioredis';
import type { CacheEntry } from './cache-entry';
import { CachedResponse, hasValidator, markedStale, usableMs } from './cached-response';
import type { CacheTier, FillLeases, TierHealth } from './cache-tier';
import { decodeEntry, encodeEntry } from './entry-codec';

/** Field holding the time of the last soft invalidation of a URL. */
const SOFT_FIELD = '#soft';
/** Field of the no-Vary response or the Vary index. */
const BASE_FIELD = '';
/** Redis keeps an entry this much longer than it can be used, so instances near the edge agree. */
export const L2_TTL_MARGIN_MS = 30_000;
const SCAN_BATCH = 500;

export interface RedisTierStats {
  hits: number;
  misses: number;
  errors: number;
  /** Calls skipped because the breaker was open. */
  skipped: number;
  writes: number;
  tooLarge: number;
  /** Entries that did not decode (garbage, another format, tampering): read as misses and deleted. */
  invalid: number;
}

export interface RedisMemory {
  usedMemory: number;
  maxMemory: number;
  evictedKeys: number;
}

/**
 * L2: Redis shared by every instance. One Redis hash per URL holds its response (or Vary index)
 * and its variants, so removing a URL is one UNLINK and a URL never spans Cluster slots:
 *
 *   <prefix>{<h>}:o:<host/path?query>   hash  '' → response or Vary index, <selector> → variant, '#soft' → time
 *   <prefix>{<h>}:l                     string  the fill lease for cross-instance coalescing
 *   <prefix>t:<tag>                     set     object keys carrying the surrogate key
 *
 * <h> is a short hash of the URL: the hash tag keeping an object's keys in one slot.
 * Every call has a timeout and goes through a circuit breaker; a failing Redis reads as a miss.
 */
export class RedisTier implements CacheTier {
  readonly name = 'l2';
  readonly shared = true;
  readonly stats: RedisTierStats = { hits: 0, misses: 0, errors: 0, skipped: 0, writes: 0, tooLarge: 0, invalid: 0 };
  readonly leases: FillLeases;
  readonly breaker: CircuitBreaker;
  private readonly prefix: string;
  /**
   * Whether the last Redis call failed. The lease calls are an optimisation: while Redis is
   * failing they are skipped rather than each costing a request another full timeout.
   */
  private failing = false;
  /** The last Redis error, for the log line when the breaker opens. */
  lastError: string | null = null;

  constructor(
    readonly client: RedisClient,
    private readonly config: RedisConfig,
    private readonly slots: readonly string[],
    private readonly maxAgeMs: number,
    onBreakerChange?: (state: BreakerState) => void,
  ) {
    this.prefix = config.keyPrefix;
    this.leases = {
      leaseMs: config.leaseMs,
      acquire: (primaryKey, token) => this.acquireLease(primaryKey, token),
      release: (primaryKey, token) => this.releaseLease(primaryKey, token),
      held: (primaryKey) => this.leaseHeld(primaryKey),
    };
    this.breaker = new CircuitBreaker(config.breakerThreshold, config.breakerCooldownMs, onBreakerChange);
    client.defineCommand('tiercelSoft', {
      numberOfKeys: 1,
      lua: `if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('HSET', KEYS[1], '${SOFT_FIELD}', ARGV[1]) return 1 end return 0`,
    });
    // Compare-and-delete: only the holder's own token releases a lease.
    client.defineCommand('tiercelRelease', {
      numberOfKeys: 1,
      lua: `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`,
    });
  }

  /**
   * Its remaining freshness and stale windows (Redis adds a margin). Objects with validators are
   * worth keeping for revalidation as long as L1 would keep them.
   */
  retentionMs(obj: CachedResponse, now: number): number {
    const usable = usableMs(obj, now);
    return hasValidator(obj) ? Math.max(usable, this.maxAgeMs) : Math.max(usable, 1000);
  }

  health(): TierHealth {
    const state = this.breaker.state === 'closed' && this.client.status === 'ready' ? 'ok' : 'degraded';
    return {
      name: this.name,
      state,
      errors: this.stats.errors,
      details: { ...this.stats, breaker: this.breaker.state, breakerOpens: this.breaker.opens, connection: this.client.status },
    };
  }

  get breakerOpen(): boolean {
    return this.breaker.state !== 'closed';
  }

  objectKey(primaryKey: string): string {
    return `${this.prefix}{${tagOf(primaryKey)}}:o:${primaryKey}`;
  }

  private leaseKey(primaryKey: string): string {
    return `${this.prefix}{${tagOf(primaryKey)}}:l`;
  }

  private tagKey(tag: string): string {
    return `${this.prefix}t:${tag}`;
  }

  /** countMiss: false for a poll (waiting on another instance's fill), which is not a lookup of its own. */
  async get(primaryKey: string, variant: string, countMiss = true): Promise<CacheEntry | undefined> {
    const reply = await this.call(() => this.client.hmgetBuffer(this.objectKey(primaryKey), variant, SOFT_FIELD));
    if (reply === undefined || reply === null || reply[0] === null || reply[0] === undefined) {
      if (reply !== undefined && countMiss) this.stats.misses++;
      return undefined;
    }
    const entry = decodeEntry(reply[0], this.slots);
    if (entry === null) {
      // Whatever wrote it, it is not an entry Tiercel can serve: a miss, and gone, so the fill replaces it.
      this.stats.invalid++;
      if (countMiss) this.stats.misses++;
      void this.call(() => this.client.hdel(this.objectKey(primaryKey), variant));
      return undefined;
    }
    const soft = reply[1] ? Number(reply[1].toString()) : 0;
    if (entry.kind === 'response') {
      this.stats.hits++;
      return soft > entry.responseTime ? markedStale(entry, soft) : entry;
    }
    return entry;
  }

  async variantsOf(primaryKey: string): Promise<Map<string, CachedResponse> | undefined> {
    const all = await this.call(() => this.client.hgetallBuffer(this.objectKey(primaryKey)));
    if (all === undefined) return undefined;
    const out = new Map<string, CachedResponse>();
    for (const [field, value] of Object.entries(all)) {
      if (field === SOFT_FIELD) continue;
      // An entry that does not decode is shown as absent, as a lookup would treat it.
      const entry = decodeEntry(value, this.slots);
      if (entry !== null && entry.kind === 'response') out.set(field, entry);
    }
    return out;
  }

  async set(primaryKey: string, variant: string, entry: CacheEntry, ttlMs: number): Promise<void> {
    if (entry.kind === 'response' && entry.body.length > this.config.maxObjectBytes) {
      this.stats.tooLarge++;
      return;
    }
    const key = this.objectKey(primaryKey);
    const ttl = Math.max(1000, Math.ceil(ttlMs + L2_TTL_MARGIN_MS));
    const value = encodeEntry(entry, this.slots);
    const tags = entry.kind === 'response' ? entry.tags : [];
    const done = await this.call(() => {
      // Separate commands (auto-pipelined), not MULTI: the tag sets live in other Cluster slots.
      const writes: Promise<unknown>[] = [
        this.client.hset(key, variant, value),
        // The hash lives as long as its longest-lived variant: set when new, extend when longer.
        this.client.pexpire(key, ttl, 'NX'),
        this.client.pexpire(key, ttl, 'GT'),
      ];
      for (const tag of tags) {
        const tk = this.tagKey(tag);
        writes.push(this.client.sadd(tk, key), this.client.pexpire(tk, ttl, 'NX'), this.client.pexpire(tk, ttl, 'GT'));
      }
      return Promise.all(writes);
    });
    if (done !== undefined) this.stats.writes++;
  }

  async delete(primaryKey: string): Promise<number> {
    return (await this.call(() => this.client.unlink(this.objectKey(primaryKey)))) ?? 0;
  }

  /** Removes (or marks stale) what the target names; null when Redis could not be reached. */
  async invalidate(target: InvalidationTarget, soft: boolean): Promise<number | null> {
    try {
      switch (target.kind) {
        case 'urls':
          return await this.removeKeys(target.keys.map((k) => this.objectKey(k)), soft);
        case 'tags': {
          let n = 0;
          for (const tag of target.tags) {
            const members = await this.client.smembers(this.tagKey(tag));
            n += await this.removeKeys(members, soft);
            if (!soft) await this.client.unlink(this.tagKey(tag));
          }
          return n;
        }
        case 'pattern': {
          const glob = compileGlob(target.pattern);
          const marker = '}:o:';
          return await this.scan(`${escapeMatch(this.prefix)}{*}:o:*`, (key) => {
            const at = key.indexOf(marker);
            return at !== -1 && glob.matches(key.slice(at + marker.length));
          }, soft);
        }
        case 'all':
          return await this.scan(`${escapeMatch(this.prefix)}*`, (key) => soft ? key.includes('}:o:') : true, soft);
      }
    } catch {
      this.stats.errors++;
      return null;
    }
  }

  /** SET NX PX with the holder's token; 'unavailable' when Redis is away (coalescing then stays local). */
  private async acquireLease(primaryKey: string, token: string): Promise<boolean | 'unavailable'> {
    const r = await this.call(() => this.client.set(this.leaseKey(primaryKey), token, 'PX', this.config.leaseMs, 'NX'), true);
    return r === undefined ? 'unavailable' : r === 'OK';
  }

  private releaseLease(primaryKey: string, token: string): void {
    void this.call(() => (this.client as Redis & { tiercelRelease(k: string, t: string): Promise<number> }).tiercelRelease(this.leaseKey(primaryKey), token));
  }

  private async leaseHeld(primaryKey: string): Promise<boolean> {
    const r = await this.call(() => this.client.exists(this.leaseKey(primaryKey)), true);
    return r === 1;
  }

  /** Redis memory figures from INFO, summed over every master; null while the breaker is open. */
  async memory(): Promise<RedisMemory | null> {
    if (this.breaker.state !== 'closed') return null;
    const nodes: Redis[] = isCluster(this.client) ? (this.client as ClusterClient).nodes('master') : [this.client as Redis];
    const out: RedisMemory = { usedMemory: 0, maxMemory: 0, evictedKeys: 0 };
    for (const node of nodes) {
      const [memory, stats] = await Promise.all([node.info('memory'), node.info('stats')]);
      out.usedMemory += infoField(memory, 'used_memory');
      out.maxMemory += infoField(memory, 'maxmemory');
      out.evictedKeys += infoField(stats, 'evicted_keys');
    }
    return out;
  }

  /** Probes Redis when the breaker allows, so it closes again without waiting for traffic. */
  async ping(): Promise<boolean> {
    return (await this.call(() => this.client.ping())) === 'PONG';
  }

  private async removeKeys(keys: string[], soft: boolean): Promise<number> {
    if (keys.length === 0) return 0;
    const now = String(Date.now());
    const results = await Promise.all(keys.map((k) =>
      soft ? (this.client as Redis & { tiercelSoft(k: string, t: string): Promise<number> }).tiercelSoft(k, now) : this.client.unlink(k),
    ));
    return results.reduce<number>((n, r) => n + Number(r), 0);
  }

  /** SCAN each master in batches, never KEYS: Redis keeps serving while a large purge runs. */
  private async scan(match: string, keep: (key: string) => boolean, soft: boolean): Promise<number> {
    const nodes: Redis[] = isCluster(this.client) ? this.client.nodes('master') : [this.client as Redis];
    let removed = 0;
    for (const node of nodes) {
      let cursor = '0';
      do {
        const [next, keys] = await node.scan(cursor, 'MATCH', match, 'COUNT', SCAN_BATCH);
        cursor = next;
        const chosen = keys.filter(keep);
        if (chosen.length === 0) continue;
        if (soft) {
          removed += await this.removeKeys(chosen, true);
        } else {
          // The keys came from this node, so single-key UNLINKs pipelined to it are valid in Cluster too.
          const pipeline = node.pipeline();
          for (const k of chosen) pipeline.unlink(k);
          const replies = (await pipeline.exec()) ?? [];
          for (const [err, n] of replies) if (!err) removed += Number(n);
        }
      } while (cursor !== '0');
    }
    return removed;
  }

  /**
   * Runs one Redis call behind the breaker; undefined when skipped or failed. An `optional`
   * call is also skipped while the last call failed, so one request never waits out the
   * timeout twice (an L2 lookup, then the lease) on a Redis that stopped answering.
   *
   * The call has its own deadline of REDIS_TIMEOUT from now: ioredis starts a command's
   * timeout only when its auto-pipeline is sent, and a pipeline waits for the one before it,
   * so against a frozen Redis the client's commandTimeout alone can let a call wait twice as long.
   */
  private async call<T>(op: () => Promise<T>, optional = false): Promise<T | undefined> {
    if ((optional && this.failing) || !this.breaker.allow()) {
      this.stats.skipped++;
      return undefined;
    }
    let timer: NodeJS.Timeout | undefined;
    try {
      const deadline = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`Redis did not answer within ${this.config.timeoutMs} ms`)), this.config.timeoutMs);
      });
      // Promise.race handles a late rejection of the abandoned command.
      const r = await Promise.race([op(), deadline]);
      this.failing = false;
      this.breaker.success();
      return r;
    } catch (err) {
      this.failing = true;
      this.stats.errors++;
      this.lastError = err instanceof Error ? err.message : String(err);
      this.breaker.failure();
      return undefined;
    } finally {
      clearTimeout(timer);
    }
  }
}

function infoField(info: string, name: string): number {
  const m = new RegExp(`^${name}:(\\d+)`, 'm').exec(info);
  return m ? Number(m[1]) : 0;
}

function isCluster(c: RedisClient): c is Cluster {
  return (c as Cluster).isCluster === true;
}

function tagOf(primaryKey: string): string {
  return createHash('sha1').update(primaryKey).digest('base64url').slice(0, 12);
}

/** Escapes Redis MATCH metacharacters in a literal. */
function escapeMatch(s: string): string {
  return s.replace(/[*?[\]\\]/g, (c) => `\\${c}`);
}
