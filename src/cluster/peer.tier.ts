import type { CacheEntry } from '../cache/cache-entry';
import type { CacheTier, FillLeases, TierHealth } from '../cache/cache-tier';
import { CachedResponse, usableMs } from '../cache/cached-response';
import { decodeEntry } from '../cache/entry-codec';
import type { InvalidationTarget } from '../invalidation/invalidation';
import type { Rpc } from './rpc';

/** How long a look into the other workers' L1 may take before it counts as a miss. */
export const PEER_TIMEOUT_MS = 1000;

/** A Buffer over what came through the channel (advanced serialization gives a Uint8Array). */
export function asBuffer(v: unknown): Buffer | null {
  if (Buffer.isBuffer(v)) return v;
  if (v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  return null;
}

/**
 * The other workers' L1, asked after this worker's own L1 misses and before L2: one instance's
 * L1 is the union of its workers' L1s, so an object stored by any worker is an L1 hit for all
 * (named `l1` in Cache-Status and the counters). Only a miss pays the IPC round trip; a hit found
 * here is copied into this worker's L1 by TieredCache, so the next one is local. A store stays
 * in the worker that filled it. Invalidations reach every other worker through it, and they
 * are awaited: when an invalidation answers, no worker serves the object any more.
 */
export class PeerTier implements CacheTier {
  readonly name = 'l1';
  /** Skipped by invalidations heard on the Redis bus: every worker hears the bus itself. */
  readonly shared = true;
  private lookups = 0;
  private hits = 0;
  private errors = 0;

  constructor(
    private readonly rpc: Rpc,
    private readonly slots: readonly string[],
    readonly leases: FillLeases,
    private readonly timeoutMs = PEER_TIMEOUT_MS,
  ) {}

  async get(primaryKey: string, variant: string): Promise<CacheEntry | undefined> {
    this.lookups++;
    let raw: unknown;
    try {
      raw = await this.rpc.call('peer.get', { k: primaryKey, v: variant }, this.timeoutMs);
    } catch {
      this.errors++;
      return undefined;
    }
    const buf = asBuffer(raw);
    if (buf === null) return undefined;
    const entry = decodeEntry(buf, this.slots);
    if (entry === null) {
      this.errors++;
      return undefined;
    }
    this.hits++;
    return entry;
  }

  set(): void {}

  retentionMs(obj: CachedResponse, now: number): number {
    return Math.max(usableMs(obj, now), 1000);
  }

  async delete(primaryKey: string): Promise<number> {
    return this.count(this.rpc.call<number>('peer.delete', { k: primaryKey }, this.timeoutMs * 5));
  }

  async invalidate(target: InvalidationTarget, soft: boolean): Promise<number | null> {
    try {
      return await this.rpc.call<number>('peer.invalidate', { target, soft }, this.timeoutMs * 5);
    } catch {
      this.errors++;
      return null;
    }
  }

  async variantsOf(primaryKey: string): Promise<Map<string, CachedResponse> | undefined> {
    let list: unknown;
    try {
      list = await this.rpc.call('peer.variants', { k: primaryKey }, this.timeoutMs);
    } catch {
      this.errors++;
      return undefined;
    }
    const out = new Map<string, CachedResponse>();
    if (!Array.isArray(list)) return out;
    for (const item of list) {
      if (!Array.isArray(item) || typeof item[0] !== 'string') continue;
      const buf = asBuffer(item[1]);
      const e = buf === null ? null : decodeEntry(buf, this.slots);
      if (e !== null && e.kind === 'response' && !out.has(item[0])) out.set(item[0], e);
    }
    return out;
  }

  health(): TierHealth {
    return { name: 'l1-peers', state: 'ok', details: { lookups: this.lookups, hits: this.hits, errors: this.errors }, errors: this.errors };
  }

  private async count(p: Promise<number>): Promise<number> {
    try {
      return await p;
    } catch {
      this.errors++;
      return 0;
    }
  }
}

/**
 * Fill leases held by the primary for the whole instance, so one worker fetches a key and the
 * others wait for it (FillLock polls `held`). With Redis, the instance's lease is taken first
 * and Redis's after it: workers of one instance coalesce without a Redis round trip each, and
 * instances coalesce with each other as before. Without an answer from the primary, the
 * worker's own lock still coalesces its requests.
 */
export class WorkerLeases implements FillLeases {
  constructor(
    private readonly rpc: Rpc,
    readonly leaseMs: number,
    private readonly next: FillLeases | null,
    private readonly timeoutMs = PEER_TIMEOUT_MS,
  ) {}

  async acquire(primaryKey: string, token: string): Promise<boolean | 'unavailable'> {
    let mine: boolean | 'unavailable';
    try {
      mine = (await this.rpc.call<boolean>('lease.acquire', { k: primaryKey, t: token, ms: this.leaseMs }, this.timeoutMs)) === true;
    } catch {
      mine = 'unavailable';
    }
    if (mine === false || this.next === null) return mine;
    let theirs: boolean | 'unavailable';
    try {
      theirs = await this.next.acquire(primaryKey, token);
    } catch {
      theirs = 'unavailable';
    }
    if (theirs === false) {
      if (mine === true) this.rpc.notify('lease.release', { k: primaryKey, t: token });
      return false;
    }
    return theirs === true ? true : mine;
  }

  release(primaryKey: string, token: string): void {
    this.rpc.notify('lease.release', { k: primaryKey, t: token });
    this.next?.release(primaryKey, token);
  }

  async held(primaryKey: string): Promise<boolean> {
    let mine = false;
    try {
      mine = (await this.rpc.call<boolean>('lease.held', { k: primaryKey }, this.timeoutMs)) === true;
    } catch {
      mine = false;
    }
    if (mine || this.next === null) return mine;
    return this.next.held(primaryKey);
  }
}

/** The instance-wide table behind WorkerLeases, in the primary: one holder per key, bounded in time. */
export class LeaseTable {
  private readonly held = new Map<string, { token: string; worker: number; expires: number }>();

  acquire(worker: number, key: string, token: string, ms: number): boolean {
    const now = Date.now();
    const h = this.held.get(key);
    if (h !== undefined && h.expires > now) return false;
    this.held.set(key, { token, worker, expires: now + Math.max(1, Math.min(ms, 600_000)) });
    if (this.held.size > 10_000) this.sweep(now);
    return true;
  }

  release(key: string, token: string): void {
    if (this.held.get(key)?.token === token) this.held.delete(key);
  }

  isHeld(key: string): boolean {
    const h = this.held.get(key);
    if (h === undefined) return false;
    if (h.expires > Date.now()) return true;
    this.held.delete(key);
    return false;
  }

  /** A worker that died holds nothing: its waiters look again at once instead of at the lease's end. */
  dropWorker(worker: number): void {
    for (const [k, h] of this.held) if (h.worker === worker) this.held.delete(k);
  }

  get size(): number {
    return this.held.size;
  }

  private sweep(now: number): void {
    for (const [k, h] of this.held) if (h.expires <= now) this.held.delete(k);
  }
}
