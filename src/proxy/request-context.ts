import type { IncomingMessage, ServerResponse } from 'node:http';
import type { CacheControl } from '../http-cache/cache-control';
import type { LookupOutcome } from '../cache/http-cache';
import type { UpstreamTarget } from './upstream.client';

/**
 * Everything one request carries through the lifecycle steps. One object per request, created
 * with all its fields so V8 keeps one shape; the trace span joins it with the telemetry issue.
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
  readonly startedAt: number;

  constructor(
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
    readonly method: string,
    now: number,
  ) {
    this.startedAt = now;
  }
}
