import { context, Context, Link, propagation, ROOT_CONTEXT, Span, SpanContext, SpanKind, SpanStatusCode, trace, Tracer } from '@opentelemetry/api';
import type { Logger } from 'pino';
import { spanTraceFields } from '../common/trace-fields';
import type { TiercelConfig } from '../config/config';
import type { Transaction } from '../proxy/transaction';
import type { UpstreamTarget } from '../proxy/upstream.client';
import type { RequestCounters } from './request-counters';
import type { HotPathMetrics } from './hot-path-metrics';
import { OUTCOMES } from '../proxy/request-record';
import { RequestSampler, requestSampler } from './request-sampler';
import { RequestTail } from './request-tail';
import type { Outcome, Phase, Served } from '../proxy/request-record';

const headerGetter = {
  keys: (carrier: Record<string, unknown>) => Object.keys(carrier),
  get: (carrier: Record<string, unknown>, key: string) => carrier[key] as string | string[] | undefined,
};

/**
 * The telemetry of one request: a SERVER span (when a tracer provider is registered), a child
 * span per tier consulted, a CLIENT span for the origin, the metrics at the end, Server-Timing
 * and traceresponse for the client, and the access log. Without tracing every span method is
 * skipped outright, so an untraced hit pays only for two histogram records.
 */
export class RequestTelemetry {
  private readonly tracer: Tracer;
  readonly tracing: boolean;
  private readonly serverTiming: boolean;
  private readonly traceResponse: boolean;
  private readonly accessLog: boolean;
  private readonly sampler: RequestSampler;

  constructor(
    config: TiercelConfig,
    private readonly metrics: HotPathMetrics | null,
    private readonly counters: RequestCounters,
    private readonly log: Logger,
    private readonly tail: RequestTail = new RequestTail(),
    env: Record<string, string | undefined> = process.env,
  ) {
    this.tracing = config.telemetry.tracing;
    this.sampler = requestSampler(env);
    this.tracer = trace.getTracer('tiercel');
    this.serverTiming = config.telemetry.serverTiming;
    this.traceResponse = config.telemetry.traceResponse && this.tracing;
    this.accessLog = config.telemetry.accessLog;
  }

  /**
   * receive: the SERVER span, child of the client's traceparent when it sent one, for sampled
   * requests only (see RequestSampler). An unsampled request has no span: it passes the client's
   * traceparent to the origin untouched and gets no traceresponse.
   */
  begin(ctx: Transaction): void {
    if (!this.tracing) return;
    const headers = ctx.req.headers;
    let parent = ROOT_CONTEXT;
    let sampled: boolean;
    if (headers.traceparent !== undefined) {
      parent = propagation.extract(ROOT_CONTEXT, headers, headerGetter);
      const remote = trace.getSpanContext(parent);
      sampled = remote ? this.sampler.withParent((remote.traceFlags & 1) === 1) : this.sampler.root();
    } else {
      sampled = this.sampler.root();
    }
    if (!sampled) return;
    const span = this.tracer.startSpan(ctx.method, { kind: SpanKind.SERVER, startTime: performance.timeOrigin + ctx.t0 }, parent);
    ctx.span = span;
    ctx.otelContext = trace.setSpan(parent, span);
    span.setAttributes({
      'http.request.method': ctx.method,
      'url.path': (ctx.req.url ?? '/').split('?')[0]!,
      'url.scheme': 'http',
      'server.address': headers.host ?? '',
      'client.address': ctx.req.socket.remoteAddress ?? '',
      'network.protocol.version': ctx.req.httpVersion,
      'user_agent.original': headers['user-agent'] ?? '',
    });
  }

  /** A tier was consulted: a histogram record, and a child span when the request is sampled. */
  lookedUp(ctx: Transaction, tier: 'l1' | 'l2', hit: boolean, start: number, ms: number): void {
    if (tier === 'l1') ctx.l1Ms = ms;
    else ctx.l2Ms = ms;
    this.metrics?.lookup(tier, hit, ms / 1000);
    if (ctx.span !== null && ctx.span.isRecording()) {
      const attributes: Record<string, string> = { 'tiercel.cache.tier': tier, 'tiercel.cache.result': hit ? 'hit' : 'miss' };
      if (tier === 'l2') attributes['db.system.name'] = 'redis';
      this.tracer
        .startSpan(`cache.lookup ${tier}`, { kind: tier === 'l2' ? SpanKind.CLIENT : SpanKind.INTERNAL, startTime: performance.timeOrigin + start, attributes }, ctx.otelContext!)
        .end(performance.timeOrigin + start + ms);
    }
  }

  /** fetch: the CLIENT span to the origin; its context goes upstream as traceparent. */
  originStart(parent: Context | null, target: UpstreamTarget, path: string, method: string, headers: string[]): Span | null {
    if (!this.tracing || parent === null) return null;
    const span = this.tracer.startSpan(method, { kind: SpanKind.CLIENT }, parent);
    if (span.isRecording()) {
      const url = new URL(target.origin);
      span.setAttributes({
        'http.request.method': method,
        'server.address': url.hostname,
        'server.port': Number(url.port || (url.protocol === 'https:' ? 443 : 80)),
        'url.full': target.origin + path,
      });
    }
    const carrier: Record<string, string> = {};
    propagation.inject(trace.setSpan(parent, span), carrier);
    for (const name in carrier) headers.push(name, carrier[name]!);
    return span;
  }

  originEnd(span: Span | null, status: number, seconds: number): void {
    this.metrics?.originResponded(status, seconds);
    if (span === null) return;
    span.setAttribute('http.response.status_code', status);
    if (status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
  }

  originFailed(span: Span | null, reason: string, err: unknown): void {
    if (span === null) return;
    span.setAttribute('error.type', reason);
    span.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.message : String(err) });
    span.end();
  }

  /** A coalesced request links to the fetch that served it. */
  linkTo(ctx: Transaction, leader: SpanContext | undefined, why: string): void {
    if (leader === undefined || ctx.span === null || !ctx.span.isRecording()) return;
    ctx.span.addLink({ context: leader, attributes: { 'tiercel.link': why } });
  }

  /** Background work (a stale-while-revalidate refresh) gets its own trace, linked to its cause, when sampled. */
  backgroundSpan(cause: Transaction, name: string): { span: Span; context: Context } | null {
    if (!this.tracing || !(cause.span !== null || this.sampler.root())) return null;
    const links: Link[] = cause.span ? [{ context: cause.span.spanContext(), attributes: { 'tiercel.link': 'cause' } }] : [];
    const span = this.tracer.startSpan(name, { kind: SpanKind.INTERNAL, root: true, links }, context.active());
    return { span, context: trace.setSpan(ROOT_CONTEXT, span) };
  }

  /** Server-Timing (W3C): the tiers consulted and the origin wait, in milliseconds, for browser devtools. */
  serverTimingValue(ctx: Transaction): string | null {
    if (!this.serverTiming) return null;
    // An L1 hit (the busiest case) takes its value from a table: no number formatted, no string built.
    if (ctx.l2Ms < 0 && ctx.originMs < 0 && ctx.l1Ms >= 0) {
      const us = Math.round(ctx.l1Ms * 1000);
      if (us < L1_TIMINGS.length) return L1_TIMINGS[us]!;
    }
    let v = ctx.l1Ms >= 0 ? `l1;dur=${micros(ctx.l1Ms)}` : '';
    if (ctx.l2Ms >= 0) v += `${v ? ', ' : ''}l2;dur=${micros(ctx.l2Ms)}`;
    if (ctx.originMs >= 0) v += `${v ? ', ' : ''}origin;dur=${ctx.originMs.toFixed(1)}`;
    return v;
  }

  /** traceresponse: the request's trace context, so a client can find its trace. */
  traceResponseValue(ctx: Transaction): string | null {
    if (!this.traceResponse || ctx.span === null) return null;
    const sc = ctx.span.spanContext();
    return `00-${sc.traceId}-${sc.spanId}-0${sc.traceFlags & 1}`;
  }

  /** Appends Server-Timing and traceresponse to a header list being built (misses, 304s, errors). */
  appendHeaders(ctx: Transaction, out: string[]): void {
    const st = this.serverTimingValue(ctx);
    if (st) out.push('server-timing', st);
    const tr = this.traceResponseValue(ctx);
    if (tr) out.push('traceresponse', tr);
  }

  /** The response ended (or the client left): the counters, metrics, the span's end, the access log, all from the record. */
  end(ctx: Transaction): void {
    const ms = performance.now() - ctx.t0;
    const status = ctx.res.statusCode;
    const record = ctx.record;
    const outcome = this.counters.recordEnded(record, ctx.bodyBytes);
    if (ctx.rule !== null) ctx.rule.counts[OUTCOMES.indexOf(outcome)]!++;
    const span = ctx.span;
    if (span === null) this.metrics?.requestEnded(ctx.method, status, outcome, ms / 1000);
    else {
      const sc = span.spanContext();
      this.metrics?.requestEnded(ctx.method, status, outcome, ms / 1000, sc.traceId, sc.spanId);
    }
    if (span !== null) {
      if (span.isRecording()) {
        span.setAttributes({
          'http.response.status_code': status,
          'tiercel.cache.outcome': outcome,
          'tiercel.cache.phase': record.phase,
          'tiercel.cache.tier': record.served,
          'tiercel.cache.status': ctx.cacheStatus,
        });
        if (status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
        if (ctx.aborted) span.setAttribute('error.type', 'client-aborted');
      }
      span.end();
    }
    const tail = this.tail;
    if (this.accessLog || tail.listening) {
      const line = accessLine(ctx, status, outcome, ms);
      if (tail.listening) tail.publish(line);
      if (this.accessLog) this.log.info(line, 'access');
    }
  }
}

/**
 * What the access log and /admin/tail say about one finished request, all of it from the
 * transaction and its record: the same fields, in the same order, for every request.
 */
export interface AccessLine {
  trace_id?: string;
  span_id?: string;
  method: string;
  host: string | undefined;
  url: string | undefined;
  /** The path without its query, what the tail's path filter matches. */
  path: string;
  status: number;
  outcome: Outcome;
  phase: Phase;
  tier: Served;
  /** The policy rule that matched (its name, or #N), when a policy file is loaded. */
  rule: string | undefined;
  cache_status: string;
  duration_ms: number;
  l1_ms: number | undefined;
  l2_ms: number | undefined;
  /** The origin the request was sent to, and the wait for its response headers. */
  upstream: string | undefined;
  upstream_ms: number | undefined;
  bytes: number;
  client: string | undefined;
  user_agent: string | undefined;
  aborted: true | undefined;
}

export function accessLine(ctx: Transaction, status: number, outcome: Outcome, ms: number): AccessLine {
  const record = ctx.record;
  const url = ctx.req.url;
  const q = url === undefined ? -1 : url.indexOf('?');
  return {
    ...traceFields(ctx),
    method: ctx.method,
    host: ctx.req.headers.host,
    url,
    path: url === undefined ? '' : q === -1 ? url : url.slice(0, q),
    status,
    outcome,
    phase: record.phase,
    tier: record.served,
    rule: ctx.rule?.label,
    cache_status: ctx.cacheStatus,
    duration_ms: Number(ms.toFixed(3)),
    l1_ms: ctx.l1Ms >= 0 ? micros(ctx.l1Ms) : undefined,
    l2_ms: ctx.l2Ms >= 0 ? micros(ctx.l2Ms) : undefined,
    upstream: ctx.originMs >= 0 || ctx.failure !== null ? ctx.target?.origin : undefined,
    upstream_ms: ctx.originMs >= 0 ? micros(ctx.originMs) : undefined,
    bytes: ctx.bodyBytes,
    client: ctx.req.socket.remoteAddress,
    user_agent: ctx.req.headers['user-agent'],
    aborted: ctx.aborted || undefined,
  };
}

/** Milliseconds to three decimals, rounded, without toFixed's cost on every hit. */
/** Server-Timing values of L1 lookups under a millisecond, by whole microseconds, as micros() prints them. */
const L1_TIMINGS: readonly string[] = Array.from({ length: 1000 }, (_, us) => `l1;dur=${us / 1000}`);

function micros(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}

/** trace_id and span_id for a log line about this request. */
export function traceFields(ctx: Transaction): { trace_id?: string; span_id?: string } {
  return spanTraceFields(ctx.span);
}
