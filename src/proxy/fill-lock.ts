import type { SpanContext } from '@opentelemetry/api';
import type { FillLeases } from '../cache/cache-tier';
import { HitForPass } from './hit-for-pass';

/** Why an origin fetch gave nothing to store: a 5xx (status) or no answer at all (status 0). */
export interface OriginFailure {
  status: number;
  reason: string;
}

/** What a fill's waiters learn when it ends. */
export interface FillOutcome {
  /** Whether a response for the key is now stored: look it up again. */
  stored: boolean;
  /** Set when the origin failed: a waiter holding a stale object may serve it (stale-if-error). */
  failure: OriginFailure | null;
}

export const NOT_STORED: FillOutcome = Object.freeze({ stored: false, failure: null });

/** The leader's right to fill a key. Settling it wakes the waiters; it settles once, later calls are ignored. */
export interface FillPermit {
  settle(outcome: FillOutcome): void;
  readonly settled: boolean;
  /** Requests on this instance waiting for the outcome. */
  readonly waiting: number;
}

export type Acquired =
  | { role: 'leader'; permit: FillPermit }
  | { role: 'follower'; outcome: Promise<FillOutcome | 'timeout'>; leader: SpanContext | undefined }
  /** Fetch without the lock: the waiting list is full. */
  | { role: 'alone' };

interface Flight {
  waiters: number;
  leader: SpanContext | undefined;
  promise: Promise<FillOutcome>;
  resolve: (o: FillOutcome) => void;
}

export interface FillLockOptions {
  /** How long a waiter waits for the fill (COALESCE_TIMEOUT) before fetching alone. */
  waitTimeoutMs: number;
  /** Waiters per key (COALESCE_MAX_WAITERS); more fetch alone. */
  maxWaiters: number;
  /** Makes each lease token unique to this instance. */
  instanceId: string;
  /** How long an uncacheable key skips the lock (HIT_FOR_PASS_TTL). */
  hitForPassMs: number;
  /** How often a waiter on another instance's fill checks whether its lease is gone. */
  pollMs?: number;
}

/**
 * One lock for coalescing fills, on this instance and across instances (after Pingora's
 * CacheKeyLock and Varnish's waiting list): the first request for a key leads and fetches, the
 * others follow and wait for its outcome. With shared leases (Redis), the local leader also
 * takes the URL's lease; when another instance holds it, every local request for the key
 * follows that instance's fill instead, by watching the lease until it is released or expires.
 */
export class FillLock {
  private readonly flights = new Map<string, Flight>();
  private readonly pollMs: number;
  private sequence = 0;
  /** Keys whose last answer was uncacheable: their misses skip the lock for a while. */
  readonly hitForPass: HitForPass;

  constructor(private readonly options: FillLockOptions, private readonly leases: FillLeases | null) {
    this.pollMs = options.pollMs ?? 25;
    this.hitForPass = new HitForPass(options.hitForPassMs);
  }

  /** Synchronous without shared leases; a Promise when the first request for a key must ask for the lease. */
  acquire(key: string, primaryKey: string, span: SpanContext | undefined): Acquired | Promise<Acquired> {
    const flight = this.flights.get(key);
    if (flight !== undefined) {
      if (flight.waiters >= this.options.maxWaiters) return { role: 'alone' };
      flight.waiters++;
      return { role: 'follower', outcome: this.bounded(flight.promise), leader: flight.leader };
    }
    let resolve!: (o: FillOutcome) => void;
    const promise = new Promise<FillOutcome>((r) => (resolve = r));
    const f: Flight = { waiters: 0, leader: span, promise, resolve };
    this.flights.set(key, f);
    const end = (o: FillOutcome) => {
      if (this.flights.get(key) === f) this.flights.delete(key);
      f.resolve(o);
    };
    if (this.leases === null) return { role: 'leader', permit: permit(f, end) };
    return this.acquireShared(key, primaryKey, f, end);
  }

  /** Whether a fill for the key is under way on this instance. */
  busy(key: string): boolean {
    return this.flights.has(key);
  }

  /** Keys being filled on this instance now. */
  get inFlight(): number {
    return this.flights.size;
  }

  private async acquireShared(key: string, primaryKey: string, f: Flight, end: (o: FillOutcome) => void): Promise<Acquired> {
    const leases = this.leases!;
    const token = `${this.options.instanceId}:${process.pid}:${++this.sequence}`;
    let got: boolean | 'unavailable';
    try {
      got = await leases.acquire(primaryKey, token);
    } catch {
      got = 'unavailable';
    }
    // Without Redis, coalescing stays local: this instance fetches once.
    if (got === 'unavailable') return { role: 'leader', permit: permit(f, end) };
    if (got) return { role: 'leader', permit: permit(f, (o) => { leases.release(primaryKey, token); end(o); }) };
    // Another instance fills: everyone here waits for its lease to go, then looks again.
    void this.watchLease(primaryKey, leases).then(() => end(NOT_STORED), () => end(NOT_STORED));
    f.waiters++;
    return { role: 'follower', outcome: this.bounded(f.promise), leader: undefined };
  }

  private async watchLease(primaryKey: string, leases: FillLeases): Promise<void> {
    const deadline = Date.now() + Math.min(this.options.waitTimeoutMs, leases.leaseMs);
    while (Date.now() < deadline) {
      await sleep(this.pollMs);
      if (!(await leases.held(primaryKey))) return;
    }
  }

  private bounded(p: Promise<FillOutcome>): Promise<FillOutcome | 'timeout'> {
    let timer: NodeJS.Timeout;
    const timeout = new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), this.options.waitTimeoutMs)));
    return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
  }
}

function permit(flight: Flight, end: (o: FillOutcome) => void): FillPermit {
  let settled = false;
  return {
    get settled() {
      return settled;
    },
    get waiting() {
      return settled ? 0 : flight.waiters;
    },
    settle(o: FillOutcome) {
      if (settled) return;
      settled = true;
      end(o);
    },
  };
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
