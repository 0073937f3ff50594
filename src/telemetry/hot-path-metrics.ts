import { Attributes, HrTime, ValueType } from '@opentelemetry/api';
import { emptyResource } from '@opentelemetry/resources';
import {
  AggregationTemporality,
  CollectionResult,
  DataPoint,
  DataPointType,
  Histogram,
  MetricData,
  MetricProducer,
} from '@opentelemetry/sdk-metrics';
import { SERVED, type Outcome } from '../proxy/request-record';
import { RequestCounters } from './request-counters';

/** Sub-millisecond buckets for lookups (seconds): an L1 hit is microseconds, L2 a fraction of a millisecond. */
export const LOOKUP_BUCKETS = [0.000005, 0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25];
/** Request and origin durations (seconds), from an L1 hit to a slow origin. */
export const REQUEST_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

const OUTCOME_INDEX: Record<Outcome, number> = { hit: 0, stale: 1, revalidated: 2, miss: 3, bypass: 4, error: 5 };

const HTTP_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'CONNECT', 'TRACE', 'PURGE', '_OTHER'];

/** The latest traced request that fell in a bucket: an OpenMetrics exemplar. */
export interface Exemplar {
  traceId: string;
  spanId: string;
  value: number;
  /** Epoch milliseconds. */
  timeMs: number;
}

/** An explicit-bucket histogram that records with a few comparisons and array writes. */
export class FastHistogram {
  readonly counts: Float64Array;
  sum = 0;
  count = 0;
  min = Infinity;
  max = -Infinity;
  /** Per bucket, made on the first traced record: untraced traffic never allocates it. */
  exemplars: (Exemplar | undefined)[] | null = null;

  constructor(readonly attributes: Attributes, readonly boundaries: readonly number[]) {
    this.counts = new Float64Array(boundaries.length + 1);
  }

  record(v: number): number {
    const b = this.boundaries;
    let i = 0;
    while (i < b.length && v > b[i]!) i++;
    this.counts[i]!++;
    this.sum += v;
    this.count++;
    if (v < this.min) this.min = v;
    if (v > this.max) this.max = v;
    return i;
  }

  /** A sampled request: counted as any other, and kept as its bucket's exemplar. */
  recordTraced(v: number, traceId: string, spanId: string): void {
    const i = this.record(v);
    (this.exemplars ??= new Array<Exemplar | undefined>(this.counts.length))[i] = { traceId, spanId, value: v, timeMs: Date.now() };
  }

  value(): Histogram {
    return {
      buckets: { boundaries: [...this.boundaries], counts: [...this.counts] },
      sum: this.sum,
      count: this.count,
      min: this.min,
      max: this.max,
    };
  }
}

function hrTime(ms: number): HrTime {
  return [Math.floor(ms / 1000), Math.round((ms % 1000) * 1e6)];
}

/**
 * The per-request metrics, kept where the request path can afford them: plain counters and
 * histograms updated with array writes, no attribute hashing per call. The OpenTelemetry SDK
 * collects them through this MetricProducer at scrape time and exposes them with everything
 * else, so names, units and the exposition format are the SDK's own.
 */
export class HotPathMetrics implements MetricProducer {
  private readonly startTime = hrTime(performance.timeOrigin);
  /** Counted once per request and fill; /stats reads the same counters. */
  readonly counters = new RequestCounters();
  private readonly lookups: FastHistogram[];
  /** Keyed by method, status and outcome packed into one number: no string built per request. */
  private readonly requestDurations = new Map<number, FastHistogram>();
  private readonly originDurations = new Map<number, FastHistogram>();

  constructor() {
    this.lookups = [];
    for (const tier of ['l1', 'l2']) for (const result of ['hit', 'miss']) this.lookups.push(new FastHistogram(Object.freeze({ tier, result }), LOOKUP_BUCKETS));
  }

  /** Histograms by their attributes object (the one in their data points), for the exemplars. */
  private readonly byAttributes = new WeakMap<Attributes, FastHistogram>();

  /** The exemplars of the histogram whose data points carry these attributes, by bucket. */
  exemplarsOf(attributes: Attributes): readonly (Exemplar | undefined)[] | null {
    return this.byAttributes.get(attributes)?.exemplars ?? null;
  }

  /**
   * The request's duration, by method, status and outcome (the record itself is counted in
   * RequestCounters). A sampled request passes its trace: it becomes the bucket's exemplar.
   */
  requestEnded(method: string, status: number, outcome: Outcome, seconds: number, traceId?: string, spanId?: string): void {
    const o = OUTCOME_INDEX[outcome];
    let mi = HTTP_METHODS.indexOf(method);
    if (mi === -1) mi = HTTP_METHODS.length - 1;
    const key = (mi * 1000 + status) * 8 + o;
    let h = this.requestDurations.get(key);
    if (h === undefined) {
      h = new FastHistogram(Object.freeze({ 'http.request.method': HTTP_METHODS[mi]!, 'http.response.status_code': status, 'url.scheme': 'http', 'tiercel.cache.outcome': outcome }), REQUEST_BUCKETS);
      this.requestDurations.set(key, h);
      this.byAttributes.set(h.attributes, h);
    }
    if (traceId === undefined) h.record(seconds);
    else h.recordTraced(seconds, traceId, spanId!);
  }

  lookup(tier: 'l1' | 'l2', hit: boolean, seconds: number): void {
    this.lookups[(tier === 'l1' ? 0 : 2) + (hit ? 0 : 1)]!.record(seconds);
  }

  originResponded(status: number, seconds: number): void {
    let h = this.originDurations.get(status);
    if (h === undefined) {
      h = new FastHistogram(Object.freeze({ 'http.response.status_code': status }), REQUEST_BUCKETS);
      this.originDurations.set(status, h);
    }
    h.record(seconds);
  }

  /** Every origin response's wait, all statuses in one histogram (seconds), for /stats. */
  originWait(): { boundaries: readonly number[]; counts: number[]; count: number; sumSeconds: number; status5xx: number } {
    const counts = new Array<number>(REQUEST_BUCKETS.length + 1).fill(0);
    let count = 0;
    let sum = 0;
    let status5xx = 0;
    for (const [status, h] of this.originDurations) {
      for (let i = 0; i < counts.length; i++) counts[i]! += h.counts[i]!;
      count += h.count;
      sum += h.sum;
      if (status >= 500) status5xx += h.count;
    }
    return { boundaries: REQUEST_BUCKETS, counts, count, sumSeconds: sum, status5xx };
  }

  async collect(): Promise<CollectionResult> {
    const end = hrTime(performance.timeOrigin + performance.now());
    const point = <T>(attributes: Attributes, value: T): DataPoint<T> => ({ startTime: this.startTime, endTime: end, attributes, value });
    const c = this.counters;
    const requests = c.byTierAndOutcome().map((r) => point({ tier: r.tier, outcome: r.outcome }, r.count));
    const fills = c.fillCounts().map((f) => point({ purpose: f.purpose, result: f.result }, f.count));
    const histograms = (hs: Iterable<FastHistogram>) => [...hs].filter((h) => h.count > 0).map((h) => point(h.attributes, h.value()));
    const sum = (name: string, description: string, unit: string, dataPoints: DataPoint<number>[]): MetricData => ({
      descriptor: { name, description, unit, valueType: ValueType.DOUBLE },
      aggregationTemporality: AggregationTemporality.CUMULATIVE,
      dataPointType: DataPointType.SUM,
      isMonotonic: true,
      dataPoints,
    });
    const histogram = (name: string, description: string, dataPoints: DataPoint<Histogram>[]): MetricData => ({
      descriptor: { name, description, unit: 's', valueType: ValueType.DOUBLE },
      aggregationTemporality: AggregationTemporality.CUMULATIVE,
      dataPointType: DataPointType.HISTOGRAM,
      dataPoints,
    });
    const metrics: MetricData[] = [
      sum('tiercel.requests', 'Requests by the tier that served them and their cache outcome', '', requests),
      sum('tiercel.response.body.size', 'Response body bytes sent, by the tier that served them', 'By', SERVED.map((tier, t) => point({ tier }, c.bodyBytes[t]!))),
      sum('tiercel.origin.errors', 'Origin requests that failed, by reason', '', [...c.originErrors].map(([reason, n]) => point({ reason }, n))),
      sum('tiercel.fills', 'Origin fetches by purpose (miss, revalidate, refresh, pass) and how they ended', '', fills),
      histogram('tiercel.cache.lookup.duration', 'Time to look a request up in one cache tier', histograms(this.lookups)),
      histogram('http.server.request.duration', 'Duration of HTTP server requests', histograms(this.requestDurations.values())),
      histogram('tiercel.origin.request.duration', 'Time from sending a request to the origin to receiving its response headers', histograms(this.originDurations.values())),
    ].filter((m) => m.dataPoints.length > 0);
    return {
      resourceMetrics: { resource: emptyResource(), scopeMetrics: [{ scope: { name: 'tiercel' }, metrics }] },
      errors: [],
    };
  }
}
