import { Context, INVALID_SPAN_CONTEXT, propagation, ROOT_CONTEXT, SpanKind, trace } from '@opentelemetry/api';
import type { Logger } from 'pino';
import { spanTraceFields } from '../common/trace-fields';
import type { TieredCache } from '../cache/tiered-cache';
import type { Invalidation, InvalidationTarget } from './invalidation';
import type { BusStats, InvalidationBus, InvalidationMessage } from './invalidation.bus';

export interface InvalidationOutcome {
  removed: { l1: number; l2: number | null };
  /** Whether the other instances were told (false without Redis, or when publishing failed). */
  published: boolean;
}

export type InvalidationKind = InvalidationTarget['kind'];
/** Where an invalidation came from: the admin API, a PURGE request, or a successful unsafe method (RFC 9111 §4.4). */
export type InvalidationSource = 'admin' | 'purge' | 'unsafe-method';
const KINDS: InvalidationKind[] = ['urls', 'pattern', 'tags', 'all'];
const SOURCES: InvalidationSource[] = ['admin', 'purge', 'unsafe-method'];

/**
 * Invalidation, wherever it starts (admin API, PURGE, an unsafe method): this instance's L1
 * first, then L2 without blocking Redis, then a message so every other instance clears its L1.
 */
export class InvalidationService {
  /** Counts by kind and source, for /stats and the tiercel.invalidations counter. */
  private readonly counts = new Map<string, number>();
  remoteApplied = 0;

  constructor(
    private readonly cache: TieredCache,
    private readonly bus: InvalidationBus | null,
    private readonly log: Logger,
  ) {}

  start(): void {
    this.bus?.start(
      (m) => this.applyRemote(m),
      () => this.cache.invalidateLocal({ kind: 'all' }, false),
    );
  }

  /** `parent`: the request that caused it (an unsafe method), so its trace shows the invalidation. */
  async invalidate(inv: Invalidation, source: InvalidationSource, parent: Context = ROOT_CONTEXT): Promise<InvalidationOutcome> {
    const countKey = `${inv.target.kind} ${source}`;
    this.counts.set(countKey, (this.counts.get(countKey) ?? 0) + 1);
    // An unsafe method's invalidation is traced only as part of a traced request: POST traffic
    // must not bypass sampling. Admin and PURGE invalidations are rare and always traced.
    const span = source === 'unsafe-method' && trace.getSpan(parent) === undefined
      ? trace.wrapSpanContext(INVALID_SPAN_CONTEXT)
      : tracer().startSpan(`invalidation ${inv.target.kind}`, { kind: SpanKind.INTERNAL, attributes: { 'tiercel.invalidation.kind': inv.target.kind, 'tiercel.invalidation.source': source, 'tiercel.invalidation.soft': inv.soft } }, parent);
    try {
      const removed = await this.cache.invalidate(inv.target, inv.soft);
      const l1 = removed.l1 ?? 0;
      const l2 = removed.l2 ?? null;
      // The message carries this span's context: each receiver's trace links back to it.
      const carrier: Record<string, string> = {};
      propagation.inject(trace.setSpan(parent, span), carrier);
      const published = this.bus ? await this.bus.publish({ ...inv, traceparent: carrier.traceparent }) : false;
      span.setAttributes({ 'tiercel.invalidation.l1_removed': l1, 'tiercel.invalidation.l2_removed': l2 ?? -1 });
      this.log.info({ target: inv.target, soft: inv.soft, l1, l2, published, ...spanTraceFields(span) }, 'invalidated');
      return { removed: { l1, l2 }, published };
    } finally {
      span.end();
    }
  }

  /** Another instance's invalidation (shape-checked by the bus): its own trace, linked to the sender's. */
  private applyRemote(m: InvalidationMessage): void {
    this.remoteApplied++;
    const sender = m.traceparent ? trace.getSpanContext(propagation.extract(ROOT_CONTEXT, { traceparent: m.traceparent })) : undefined;
    const span = tracer().startSpan('invalidation.receive', {
      kind: SpanKind.CONSUMER,
      root: true,
      links: sender ? [{ context: sender, attributes: { 'tiercel.link': 'sender' } }] : [],
      attributes: { 'tiercel.invalidation.kind': m.target.kind, 'tiercel.invalidation.from': String(m.from) },
    });
    const n = this.cache.invalidateLocal(m.target, m.soft === true);
    span.setAttribute('tiercel.invalidation.l1_removed', n);
    span.end();
    this.log.debug({ target: m.target, from: m.from, removed: n, ...spanTraceFields(span) }, 'invalidation received');
  }

  /** Invalidations started on this instance, by kind and source (every combination, zeros included). */
  countsByKindAndSource(): { kind: InvalidationKind; source: InvalidationSource; count: number }[] {
    return KINDS.flatMap((kind) => SOURCES.map((source) => ({ kind, source, count: this.counts.get(`${kind} ${source}`) ?? 0 })));
  }

  byKind(): Record<InvalidationKind, number> {
    const out = { urls: 0, pattern: 0, tags: 0, all: 0 };
    for (const c of this.countsByKindAndSource()) out[c.kind] += c.count;
    return out;
  }

  busStats(): BusStats | null {
    return this.bus ? { ...this.bus.stats } : null;
  }

  async close(): Promise<void> {
    await this.bus?.close();
  }
}

function tracer() {
  return trace.getTracer('tiercel');
}
