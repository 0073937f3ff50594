import type { AccessLine } from './request-telemetry';
import type { RequestTail } from './request-tail';

/**
 * One finished request as GET /admin/recent shows it: the tail's fields less those that may
 * carry a secret or a person (the query string, the client's address, its User-Agent), since
 * the status page, like /stats, is read without a token.
 */
export interface RecentRequest {
  time: string;
  trace_id: string | null;
  method: string;
  host: string | null;
  path: string;
  status: number;
  outcome: string;
  tier: string;
  rule: string | null;
  cache_status: string;
  /** Why it was not stored (Cache-Status `detail`, else `fwd`); null when it was, or came from a tier. */
  reason: string | null;
  duration_ms: number;
  upstream_ms: number | null;
}

/** The requests not stored for one reason since the watch began, with the last few. */
export interface UncacheableGroup {
  reason: string;
  count: number;
  /** Newest first. */
  last: RecentRequest[];
}

export interface RecentSnapshot {
  /** When this watch began (ISO 8601): what the lists cover, at most `windowSeconds` back. */
  watchingSince: string;
  windowSeconds: number;
  /** Requests seen since the watch began. */
  seen: number;
  slowest: RecentRequest[];
  /** By reason, the most frequent first: under load a plain list would show only the last second. */
  uncacheable: UncacheableGroup[];
  errors: RecentRequest[];
}

export interface RecentOptions {
  /** Stop watching (and forget) when nobody has asked for this long. */
  idleMs: number;
  /** How far back the slowest requests reach. */
  windowMs: number;
  /** The window is kept as buckets of this length, each with its own slowest few. */
  bucketMs: number;
  perBucket: number;
  /** Entries in the slowest list and the error ring. */
  keep: number;
  /** Examples kept for each reason a response was not stored. */
  perReason: number;
  now: () => number;
}

const DEFAULTS: RecentOptions = { idleMs: 30_000, windowMs: 300_000, bucketMs: 10_000, perBucket: 20, keep: 25, perReason: 5, now: Date.now };
/** Reasons are Cache-Status tokens Tiercel writes, a short list; the bound is a guard, not a limit met. */
const MAX_REASONS = 64;

const STORED = /;\s*stored\b/;
const DETAIL = /;\s*detail=("[^"]*"|[^;\s]+)/;
const FWD = /;\s*fwd=([^;\s]+)/;

interface Bucket {
  start: number;
  items: RecentRequest[];
  /** The shortest duration held once the bucket is full: most requests stop at this comparison. */
  floor: number;
}

/** A fixed-size ring, newest last. */
class Ring {
  private readonly items: (RecentRequest | undefined)[];
  private next = 0;
  private size = 0;

  constructor(readonly capacity: number) {
    this.items = new Array<RecentRequest | undefined>(capacity);
  }

  push(r: RecentRequest): void {
    this.items[this.next] = r;
    this.next = (this.next + 1) % this.capacity;
    if (this.size < this.capacity) this.size++;
  }

  /** Newest first. */
  list(): RecentRequest[] {
    const out: RecentRequest[] = [];
    for (let i = 1; i <= this.size; i++) out.push(this.items[(this.next - i + this.capacity) % this.capacity]!);
    return out;
  }

  clear(): void {
    this.items.fill(undefined);
    this.next = 0;
    this.size = 0;
  }
}

/**
 * The recent requests behind the status page: the slowest of the last minutes, those not
 * stored (counted by reason, with the last few of each) and the last that failed. Fed by the request tail only
 * while someone reads it: the first read starts an observer on the tail, and it is removed,
 * with everything it kept, once nobody has read for `idleMs`. Unwatched, the data path pays
 * what it pays with no tail listener: one boolean test per request. Watched, it pays for the
 * tail's line and a few comparisons; memory is bounded by the buckets and the rings.
 */
export class RecentRequests {
  readonly options: RecentOptions;
  private unobserve: (() => void) | null = null;
  private sweeper: NodeJS.Timeout | null = null;
  private lastRead = 0;
  private since = 0;
  private seen = 0;
  private buckets: Bucket[] = [];
  private readonly uncacheable = new Map<string, { count: number; last: Ring }>();
  private readonly errors: Ring;

  constructor(private readonly tail: RequestTail, options: Partial<RecentOptions> = {}) {
    this.options = { ...DEFAULTS, ...options };
    this.errors = new Ring(this.options.keep);
  }

  get watching(): boolean {
    return this.unobserve !== null;
  }

  /** What the page shows; starts watching when nobody was. */
  snapshot(): RecentSnapshot {
    const now = this.options.now();
    this.lastRead = now;
    if (this.unobserve === null) {
      this.since = now;
      this.unobserve = this.tail.observe((line) => this.add(line));
      this.sweeper = setInterval(() => this.sweep(), Math.max(1000, this.options.idleMs / 2));
      this.sweeper.unref();
    }
    const from = now - this.options.windowMs;
    const slowest: RecentRequest[] = [];
    for (const b of this.buckets) if (b.start + this.options.bucketMs > from) slowest.push(...b.items);
    slowest.sort((a, b) => b.duration_ms - a.duration_ms);
    return {
      watchingSince: new Date(this.since).toISOString(),
      windowSeconds: this.options.windowMs / 1000,
      seen: this.seen,
      slowest: slowest.slice(0, this.options.keep),
      uncacheable: [...this.uncacheable].map(([reason, g]) => ({ reason, count: g.count, last: g.last.list() })).sort((a, b) => b.count - a.count),
      errors: this.errors.list(),
    };
  }

  /** Stops watching once nobody has read for idleMs, and forgets what was kept. */
  sweep(): void {
    if (this.unobserve === null || this.options.now() - this.lastRead < this.options.idleMs) return;
    this.stop();
  }

  onApplicationShutdown(): void {
    this.stop();
  }

  stop(): void {
    this.unobserve?.();
    this.unobserve = null;
    if (this.sweeper !== null) clearInterval(this.sweeper);
    this.sweeper = null;
    this.buckets = [];
    this.uncacheable.clear();
    this.errors.clear();
    this.seen = 0;
  }

  private add(line: AccessLine): void {
    this.seen++;
    const now = this.options.now();
    let bucket = this.buckets.at(-1);
    if (bucket === undefined || now >= bucket.start + this.options.bucketMs) {
      bucket = { start: now - (now % this.options.bucketMs), items: [], floor: -1 };
      this.buckets.push(bucket);
      const from = now - this.options.windowMs;
      while (this.buckets[0]!.start + this.options.bucketMs <= from) this.buckets.shift();
    }
    const failed = line.status >= 500 || line.outcome === 'error';
    const notStored = !failed && line.tier === 'origin' && !STORED.test(line.cache_status);
    const slow = line.duration_ms > bucket.floor;
    if (!slow && !failed && !notStored) return;
    const r = recentOf(line, now, notStored ? reasonOf(line.cache_status) : null);
    if (slow) {
      const items = bucket.items;
      if (items.length < this.options.perBucket) {
        items.push(r);
        if (items.length === this.options.perBucket) bucket.floor = shortest(items).ms;
      } else {
        items[shortest(items).i] = r;
        bucket.floor = shortest(items).ms;
      }
    }
    if (notStored) {
      const reason = r.reason ?? 'unknown';
      let g = this.uncacheable.get(reason);
      if (g === undefined && this.uncacheable.size < MAX_REASONS) this.uncacheable.set(reason, (g = { count: 0, last: new Ring(this.options.perReason) }));
      if (g !== undefined) {
        g.count++;
        g.last.push(r);
      }
    }
    if (failed) this.errors.push(r);
  }
}

function shortest(items: RecentRequest[]): { i: number; ms: number } {
  let i = 0;
  for (let j = 1; j < items.length; j++) if (items[j]!.duration_ms < items[i]!.duration_ms) i = j;
  return { i, ms: items[i]!.duration_ms };
}

/** The Cache-Status token saying why a response from the origin was not stored. */
export function reasonOf(cacheStatus: string): string | null {
  const d = DETAIL.exec(cacheStatus);
  if (d !== null) return d[1]!.replace(/^"|"$/g, '');
  const f = FWD.exec(cacheStatus);
  return f === null ? null : f[1]!;
}

function recentOf(l: AccessLine, now: number, reason: string | null): RecentRequest {
  return {
    time: new Date(now).toISOString(),
    trace_id: l.trace_id ?? null,
    method: l.method,
    host: l.host ?? null,
    path: l.path,
    status: l.status,
    outcome: l.outcome,
    tier: l.tier,
    rule: l.rule ?? null,
    cache_status: l.cache_status,
    reason,
    duration_ms: l.duration_ms,
    upstream_ms: l.upstream_ms ?? null,
  };
}
