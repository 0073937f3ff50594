import type { Logger } from 'pino';
import { CacheStats } from '../cache/cache-stats';
import { HttpCache } from '../cache/http-cache';
import type { Invalidation, InvalidationTarget } from './invalidation';
import type { BusStats, InvalidationBus, InvalidationMessage } from './invalidation.bus';

export interface InvalidationOutcome {
  removed: { l1: number; l2: number | null };
  /** Whether the other instances were told (false without Redis, or when publishing failed). */
  published: boolean;
}

export type InvalidationKind = InvalidationTarget['kind'];

/**
 * Invalidation, wherever it starts (admin API, PURGE, an unsafe method): this instance's L1
 * first, then L2 without blocking Redis, then a message so every other instance clears its L1.
 */
export class InvalidationService {
  readonly byKind: Record<InvalidationKind, number> = { urls: 0, pattern: 0, tags: 0, all: 0 };
  remoteApplied = 0;

  constructor(
    private readonly cache: HttpCache,
    private readonly stats: CacheStats,
    private readonly bus: InvalidationBus | null,
    private readonly log: Logger,
  ) {}

  async start(): Promise<void> {
    await this.bus?.start(
      (m) => this.applyRemote(m),
      () => this.cache.invalidateLocal({ kind: 'all' }, false),
    );
  }

  async invalidate(inv: Invalidation): Promise<InvalidationOutcome> {
    this.byKind[inv.target.kind]++;
    this.stats.invalidations++;
    const l1 = this.cache.invalidateLocal(inv.target, inv.soft);
    const l2 = this.cache.l2 ? await this.cache.l2.invalidate(inv.target, inv.soft) : null;
    const published = this.bus ? await this.bus.publish(inv) : false;
    this.log.info({ target: inv.target, soft: inv.soft, l1, l2, published }, 'invalidated');
    return { removed: { l1, l2 }, published };
  }

  private applyRemote(m: InvalidationMessage): void {
    if (!m || typeof m !== 'object' || !m.target || typeof m.target.kind !== 'string') return;
    this.remoteApplied++;
    const n = this.cache.invalidateLocal(m.target, m.soft === true);
    this.log.debug({ target: m.target, from: m.from, removed: n }, 'invalidation received');
  }

  busStats(): BusStats | null {
    return this.bus ? { ...this.bus.stats } : null;
  }

  async close(): Promise<void> {
    await this.bus?.close();
  }
}
