import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Context, Span } from '@opentelemetry/api';
import type { CacheControl } from '../http-cache/cache-control';
import type { LookupOutcome } from '../cache/http-cache';
import type { Outcome, ServedBy } from '../telemetry/hot-path-metrics';
import type { UpstreamTarget } from './upstream.client';

/**
 * Everything one request carries through the lifecycle steps. One object per request, created
 * with all its fields so V8 keeps one shape. It carries the request's span and timings too, so
 * the Cache-Status reason, the span, the metric labels and the access log never disagree.
 */
export class RequestContext {
  /** Host and path: the cache's primary key, and what invalidation patterns match. */
  primaryKey = '';
  /** Path and query sent upstream. */
  path = '';
  target: UpstreamTarget | null = null;
  requestCc: CacheControl | null = null;
  readonly lookup: LookupOutcome = { key: '', found: undefined, tier: 'l1', miss: 'uri-miss' };
  /** Set when the client goes away before the response is complete. */
  aborted = false;
  /** Aborts the origin request when the client goes away. */
  abort: AbortController | null = null;
  /** performance.now() at arrival. */
  readonly t0: number;
  /** Milliseconds spent in each tier's lookup and waiting for the origin's headers; -1 when not consulted. */
  l1Ms = -1;
  l2Ms = -1;
  originMs = -1;
  servedBy: ServedBy = 'none';
  outcome: Outcome = 'error';
  bodyBytes = 0;
  cacheStatus = '';
  span: Span | null = null;
  otelContext: Context | null = null;

  constructor(
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
    readonly method: string,
    readonly startedAt: number,
  ) {
    this.t0 = performance.now();
  }
}
