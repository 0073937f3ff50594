import type { IncomingHttpHeaders } from 'node:http';
import { varySelector } from '../http-cache/vary';
import type { InvalidationTarget } from '../invalidation/invalidation';
import type { CacheEntry } from './cache-entry';
import type { CachedResponse } from './cached-response';
import type { CacheTier, FillLeases, TierHealth } from './cache-tier';
import { varyIndex } from './vary-index';

export type MissReason = 'uri-miss' | 'vary-miss';

/** Where a lookup ended: the object, the tier that had it and the key it lives at, or why nothing matched. */
export interface LookupOutcome {
  /** The URL and variant: what concurrent misses coalesce on. */
  key: string;
  found: CachedResponse | undefined;
  tier: 'l1' | 'l2';
  miss: MissReason;
  /** The variant selector, once a tier's Vary index gave the names: later tiers reuse it. */
  selector: string | null;
}

export function emptyLookup(): LookupOutcome {
  return { key: '', found: undefined, tier: 'l1', miss: 'uri-miss', selector: null };
}

const VARIANT_SEPARATOR = '\u0001';

/** Where a URL's stored part lives (RFC 9111 §3.3): apart from its whole object; '#' is never in a request-target. */
export function partialKey(primaryKey: string): string {
  return `${primaryKey}#206`;
}

/** A URL invalidated takes its stored part with it. */
function withParts(target: InvalidationTarget): InvalidationTarget {
  return target.kind === 'urls' ? { kind: 'urls', keys: target.keys.flatMap((k) => [k, partialKey(k)]) } : target;
}

/**
 * The cache as the request path sees it: a list of tiers, fastest first, behind one interface.
 * The first tier answers synchronously (an L1 hit allocates no Promise); the rest are asked in
 * order after it misses. Vary is resolved once, by the first tier that holds the URL's index;
 * a hit is promoted to every faster tier; a store goes to all of them, the first synchronously.
 * Nothing outside this class touches a tier's client.
 */
export class TieredCache {
  private readonly first: CacheTier;
  private readonly rest: readonly CacheTier[];

  constructor(readonly tiers: readonly CacheTier[]) {
    if (tiers.length === 0) throw new Error('a cache needs at least one tier');
    this.first = tiers[0]!;
    this.rest = tiers.slice(1);
  }

  /** Whether a miss in the first tier has further tiers to ask. */
  get layered(): boolean {
    return this.rest.length > 0;
  }

  /** The leases of the first tier that offers them: cross-instance coalescing. */
  leases(): FillLeases | null {
    for (const t of this.tiers) if (t.leases !== undefined) return t.leases;
    return null;
  }

  /** Looks a request up in the first tier, synchronously. */
  lookupFirst(primaryKey: string, headers: IncomingHttpHeaders, out: LookupOutcome, countMiss = true): void {
    out.key = primaryKey;
    out.found = undefined;
    out.tier = this.first.name;
    out.miss = 'uri-miss';
    out.selector = null;
    const entry = this.first.get(primaryKey, '', countMiss) as CacheEntry | undefined;
    if (entry === undefined) return;
    if (entry.kind === 'response') {
      out.found = entry;
      return;
    }
    const selector = varySelector(entry.names, headers);
    out.selector = selector;
    out.key = primaryKey + VARIANT_SEPARATOR + selector;
    const variant = this.first.get(primaryKey, selector, countMiss) as CacheEntry | undefined;
    if (variant !== undefined && variant.kind === 'response') out.found = variant;
    else out.miss = 'vary-miss';
  }

  /** Looks a request up in the tiers after the first, in order, after it missed; a hit is promoted. */
  async lookupRest(primaryKey: string, headers: IncomingHttpHeaders, out: LookupOutcome, countMiss = true): Promise<void> {
    for (let i = 0; i < this.rest.length; i++) {
      const tier = this.rest[i]!;
      let index: CacheEntry | undefined;
      if (out.selector === null) {
        index = await tier.get(primaryKey, '', countMiss);
        if (index === undefined) continue;
        if (index.kind === 'response') {
          out.found = index;
          out.tier = tier.name;
          this.promote(i + 1, primaryKey, '', index, undefined);
          return;
        }
        out.selector = varySelector(index.names, headers);
        out.key = primaryKey + VARIANT_SEPARATOR + out.selector;
      }
      const variant = await tier.get(primaryKey, out.selector, countMiss);
      if (variant !== undefined && variant.kind === 'response') {
        out.found = variant;
        out.tier = tier.name;
        this.promote(i + 1, primaryKey, out.selector, variant, index?.kind === 'vary' ? index.names : variant.varyNames);
        return;
      }
      out.miss = 'vary-miss';
    }
  }

  /** Copies a hit from tier `below` into every faster tier, for the rest of its life there. */
  private promote(below: number, primaryKey: string, selector: string, obj: CachedResponse, names: readonly string[] | undefined): void {
    const now = Date.now();
    for (let i = 0; i < below; i++) {
      const tier = this.tiers[i]!;
      const ttl = tier.retentionMs(obj, now);
      if (selector !== '' && names !== undefined && names.length > 0) void tier.set(primaryKey, '', varyIndex(names), ttl);
      void tier.set(primaryKey, selector, obj, ttl);
    }
  }

  /** The key a response with these Vary names is stored under for this request. */
  static variantKey(primaryKey: string, varyNames: readonly string[], headers: IncomingHttpHeaders): string {
    return varyNames.length === 0 ? primaryKey : primaryKey + VARIANT_SEPARATOR + varySelector(varyNames, headers);
  }

  /**
   * Stores a response in every tier: the first now, the others in the background. Resolves when
   * every write is done; a failing tier's write is its own to count, never the client's problem.
   */
  store(primaryKey: string, headers: IncomingHttpHeaders, obj: CachedResponse): Promise<void> {
    const now = Date.now();
    const selector = obj.varyNames.length === 0 ? '' : varySelector(obj.varyNames, headers);
    const index = selector === '' ? null : varyIndex(obj.varyNames);
    const writes: Promise<void>[] = [];
    for (const tier of this.tiers) {
      const ttl = tier.retentionMs(obj, now);
      if (index !== null) {
        const w = tier.set(primaryKey, '', index, ttl);
        if (w) writes.push(w);
      }
      const w = tier.set(primaryKey, selector, obj, ttl);
      if (w) writes.push(w);
    }
    return writes.length === 0 ? Promise.resolve() : Promise.all(writes).then(() => undefined);
  }

  /** Applies an invalidation to every tier, fastest first; per tier, how many objects it touched (null: unreachable). */
  async invalidate(target: InvalidationTarget, soft: boolean): Promise<Record<string, number | null>> {
    target = withParts(target);
    const out: Record<string, number | null> = {};
    for (const tier of this.tiers) {
      const n = await tier.invalidate(target, soft);
      // Tiers of one name (a worker's L1 and its siblings') add up; unreachable only when all were.
      const before = out[tier.name];
      out[tier.name] = before === undefined ? n : before === null ? n : n === null ? before : before + n;
    }
    return out;
  }

  /** Applies an invalidation heard from another instance: only the tiers that instance cannot reach itself. */
  invalidateLocal(target: InvalidationTarget, soft: boolean): number {
    target = withParts(target);
    let n = 0;
    for (const tier of this.tiers) {
      if (tier.shared) continue;
      const r = tier.invalidate(target, soft);
      if (typeof r === 'number') n += r;
    }
    return n;
  }

  health(): TierHealth[] {
    return this.tiers.map((t) => t.health());
  }

  tier(name: string): CacheTier | undefined {
    return this.tiers.find((t) => t.name === name);
  }
}
