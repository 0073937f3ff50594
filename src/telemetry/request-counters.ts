import { missed, OUTCOMES, Outcome, outcomeOf, Phase, PHASES, RequestRecord, SERVED, Served } from '../proxy/request-record';

/** Why a fill was made: a miss, a revalidation for a waiting client, a background refresh, a pass. */
export const FILL_PURPOSES = ['miss', 'revalidate', 'refresh', 'pass'] as const;
export type FillPurpose = (typeof FILL_PURPOSES)[number];

/**
 * How a fill ended: stored (a whole body), revalidated (a 304 updated the stored object),
 * not-stored (forwarded only), incomplete (the body ended short of its length: never stored),
 * failed (no answer, or the body broke), abandoned (nobody needed it any more).
 */
export const FILL_RESULTS = ['stored', 'revalidated', 'not-stored', 'incomplete', 'failed', 'abandoned'] as const;
export type FillResult = (typeof FILL_RESULTS)[number];

/** What /stats shows, computed from the same counters as /metrics. */
export interface RequestStats {
  /** Every finished request on the data port, whatever answered it. */
  requests: number;
  hits: number;
  misses: number;
  l1Hits: number;
  l2Hits: number;
  hitRate: number;
  coalesced: number;
  revalidations: number;
  staleServed: number;
  passes: number;
  stores: number;
  incompleteBodies: number;
  upstreamErrors: number;
  originRetries: number;
  backgroundRefreshes: number;
  backgroundRefreshErrors: number;
}

const P = PHASES.length;

/**
 * The counters behind both /metrics and /stats: every request counted once, by its record (the
 * tier that served it, its phase, and whether it had looked the cache up), and every fill by
 * purpose and result. Plain typed arrays: counting is an index and an increment.
 */
export class RequestCounters {
  /** [served][phase][looked up and missed] */
  private readonly records = new Float64Array(SERVED.length * P * 2);
  readonly bodyBytes = new Float64Array(SERVED.length);
  private readonly fills = new Float64Array(FILL_PURPOSES.length * FILL_RESULTS.length);
  readonly originErrors = new Map<string, number>();
  /** Origin requests sent again after their connection broke before any response byte. */
  originRetries = 0;
  /** Client connections open on the data port, and requests on them not yet finished. */
  openConnections = 0;
  activeRequests = 0;

  originRetried(): void {
    this.originRetries++;
  }

  recordEnded(r: RequestRecord, bodyBytes: number): Outcome {
    const s = SERVED.indexOf(r.served);
    const p = PHASES.indexOf(r.phase);
    const m = missed(r);
    this.records[(s * P + p) * 2 + (m ? 1 : 0)]!++;
    this.bodyBytes[s]! += bodyBytes;
    return outcomeOf(r.phase, m);
  }

  fillEnded(purpose: FillPurpose, result: FillResult): void {
    this.fills[FILL_PURPOSES.indexOf(purpose) * FILL_RESULTS.length + FILL_RESULTS.indexOf(result)]!++;
  }

  originFailed(reason: string): void {
    this.originErrors.set(reason, (this.originErrors.get(reason) ?? 0) + 1);
  }

  /** Requests by served tier and outcome label, as tiercel_requests_total has them. */
  byTierAndOutcome(): { tier: Served; outcome: Outcome; count: number }[] {
    const sums = new Map<string, number>();
    for (let s = 0; s < SERVED.length; s++) {
      for (let p = 0; p < P; p++) {
        for (let m = 0; m < 2; m++) {
          const n = this.records[(s * P + p) * 2 + m]!;
          if (n === 0) continue;
          const k = `${s} ${OUTCOMES.indexOf(outcomeOf(PHASES[p]!, m === 1))}`;
          sums.set(k, (sums.get(k) ?? 0) + n);
        }
      }
    }
    return [...sums].map(([k, count]) => {
      const [s, o] = k.split(' ').map(Number) as [number, number];
      return { tier: SERVED[s]!, outcome: OUTCOMES[o]!, count };
    });
  }

  fillCounts(): { purpose: FillPurpose; result: FillResult; count: number }[] {
    const out: { purpose: FillPurpose; result: FillResult; count: number }[] = [];
    for (let p = 0; p < FILL_PURPOSES.length; p++) {
      for (let r = 0; r < FILL_RESULTS.length; r++) {
        const count = this.fills[p * FILL_RESULTS.length + r]!;
        if (count > 0) out.push({ purpose: FILL_PURPOSES[p]!, result: FILL_RESULTS[r]!, count });
      }
    }
    return out;
  }

  /** Requests in a phase, summed over tiers (served: one tier only). */
  phase(phase: Phase, served?: Served): number {
    const p = PHASES.indexOf(phase);
    let n = 0;
    for (let s = 0; s < SERVED.length; s++) {
      if (served !== undefined && SERVED[s] !== served) continue;
      n += this.records[(s * P + p) * 2]! + this.records[(s * P + p) * 2 + 1]!;
    }
    return n;
  }

  private fill(purpose: FillPurpose | null, result: FillResult | null): number {
    let n = 0;
    for (let p = 0; p < FILL_PURPOSES.length; p++) {
      if (purpose !== null && FILL_PURPOSES[p] !== purpose) continue;
      for (let r = 0; r < FILL_RESULTS.length; r++) {
        if (result !== null && FILL_RESULTS[r] !== result) continue;
        n += this.fills[p * FILL_RESULTS.length + r]!;
      }
    }
    return n;
  }

  stats(): RequestStats {
    let misses = 0;
    let requests = 0;
    for (let i = 0; i < this.records.length; i++) {
      requests += this.records[i]!;
      if (i % 2 === 1) misses += this.records[i]!;
    }
    const l1Hits = this.phase('hit', 'l1') + this.phase('stale', 'l1');
    const l2Hits = this.phase('hit', 'l2') + this.phase('stale', 'l2');
    const hits = l1Hits + l2Hits;
    return {
      requests,
      hits,
      misses,
      l1Hits,
      l2Hits,
      hitRate: hits + misses === 0 ? 0 : Number((hits / (hits + misses)).toFixed(4)),
      coalesced: this.phase('collapsed'),
      revalidations: this.fill(null, 'revalidated'),
      staleServed: this.phase('stale') + this.phase('stale-if-error'),
      passes: this.phase('pass'),
      stores: this.fill(null, 'stored'),
      incompleteBodies: this.fill(null, 'incomplete'),
      upstreamErrors: [...this.originErrors.values()].reduce((a, b) => a + b, 0),
      originRetries: this.originRetries,
      backgroundRefreshes: this.fill('refresh', null),
      backgroundRefreshErrors: this.fill('refresh', 'failed') + this.fill('refresh', 'incomplete'),
    };
  }
}
