import type { SpanContext } from '@opentelemetry/api';
import { LRUCache } from 'lru-cache';

/** How a leader's fetch ended, as its waiters need to know it. */
export type FlightResult = 'stored' | 'not-stored';

interface Flight {
  waiters: number;
  /** The leader request's span, for the waiters' links. */
  leader: SpanContext | undefined;
  promise: Promise<FlightResult>;
  resolve: (r: FlightResult) => void;
}

/**
 * Request coalescing (Varnish's waiting list): the first miss on a key fetches, later misses on
 * the same key wait for it. A key whose response was uncacheable is remembered as pass for a
 * while (hit-for-pass), so it never serialises traffic behind one fetch.
 */
export class Coalescer {
  private readonly flights = new Map<string, Flight>();
  private readonly passKeys: LRUCache<string, true>;

  constructor(
    private readonly waitTimeoutMs: number,
    private readonly maxWaiters: number,
    hitForPassMs: number,
  ) {
    this.passKeys = new LRUCache<string, true>({ max: 100_000, ttl: Math.max(1, hitForPassMs), ttlAutopurge: false });
  }

  isPass(key: string): boolean {
    return this.passKeys.get(key) === true;
  }

  markPass(key: string): void {
    this.passKeys.set(key, true);
  }

  clearPass(key: string): void {
    this.passKeys.delete(key);
  }

  /**
   * Becomes the leader for a key (returns a `done` callback), or returns a promise for the
   * leader's result when this request should wait. null: fetch alone (queue full).
   */
  join(key: string, span?: SpanContext): { lead: (r: FlightResult) => void } | { wait: Promise<FlightResult | 'timeout'>; leader: () => SpanContext | undefined } | null {
    const flight = this.flights.get(key);
    if (flight === undefined) {
      let resolve!: (r: FlightResult) => void;
      const promise = new Promise<FlightResult>((r) => (resolve = r));
      const f: Flight = { waiters: 0, leader: span, promise, resolve };
      this.flights.set(key, f);
      let done = false;
      return {
        lead: (r: FlightResult) => {
          if (done) return;
          done = true;
          if (this.flights.get(key) === f) this.flights.delete(key);
          f.resolve(r);
        },
      };
    }
    if (flight.waiters >= this.maxWaiters) return null;
    flight.waiters++;
    return { wait: this.bounded(flight.promise), leader: () => flight.leader };
  }

  get inFlight(): number {
    return this.flights.size;
  }

  private bounded(p: Promise<FlightResult>): Promise<FlightResult | 'timeout'> {
    let timer: NodeJS.Timeout;
    const timeout = new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), this.waitTimeoutMs)));
    return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
  }
}
