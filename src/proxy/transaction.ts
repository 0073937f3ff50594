import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { Context, Span, SpanContext } from '@opentelemetry/api';
import type { CachedResponse } from '../cache/cached-response';
import { emptyLookup, LookupOutcome } from '../cache/tiered-cache';
import type { CacheControl } from '../http-cache/cache-control';
import type { ForwardReason } from '../http-cache/cache-status';
import type { FillHandle, FillHead } from './fill-handle';
import type { FillOutcome, FillPermit, OriginFailure } from './fill-lock';
import type { Rule } from '../policy/policy';
import { RequestRecord, UNANSWERED } from './request-record';
import type { UpstreamTarget } from './upstream.client';

/** What the fetch step asks of the origin on this request's behalf. */
export type FetchPurpose = 'miss' | 'revalidate' | 'pass';

/** A response Tiercel makes itself. */
export interface SynthAnswer {
  status: number;
  message: string;
  fwd: ForwardReason;
  detail: string;
}

/**
 * Everything one request carries through the steps: the client's request and response, what
 * the lookup found, the fill it waits on or leads, and in the end its record. One object per
 * request, created with all its fields so V8 keeps one shape.
 */
export class Transaction {
  /** Host and path: the cache's primary key, and what invalidation patterns match. */
  primaryKey = '';
  /** Path and query sent upstream. */
  path = '';
  target: UpstreamTarget | null = null;
  requestCc: CacheControl | null = null;
  /** The authority the client asked for (normalised Host, or the absolute URL's). */
  authority = '';
  /** The client is in TRUSTED_PROXIES. */
  trusted = false;
  /** The request fields the origin sees: what selects a variant and what the store rules read. */
  keyHeaders: IncomingHttpHeaders = {};
  readonly lookup: LookupOutcome = emptyLookup();
  /** The operator's rule that matched in recv (first match wins); null: none, RFC behaviour. */
  rule: Rule | null = null;

  // ── decided by the steps ──
  /** The stored object the deliver step writes. */
  object: CachedResponse | undefined = undefined;
  /** The stored object that needs validation, kept as the fallback for stale-if-error. */
  stale: CachedResponse | undefined = undefined;
  /** The tier the stale object came from. */
  staleTier: 'l1' | 'l2' = 'l1';
  /** Age of the object being delivered, ms. */
  ageMs = 0;
  /** The key was remembered as uncacheable: its miss skips the fill lock. */
  hitForPass = false;
  /** The synth step already answered an internal error: another throw cuts the connection. */
  failedInternally = false;
  purpose: FetchPurpose = 'miss';
  /** Why the request goes to the origin, for Cache-Status `fwd`. */
  reason: ForwardReason = 'uri-miss';
  /** A Cache-Status detail set before the fetch (hit-for-pass, head, range, collapse-timeout). */
  detail: string | null = null;
  permit: FillPermit | null = null;
  fill: FillHandle | null = null;
  head: FillHead | null = null;
  waitFor: Promise<FillOutcome | 'timeout'> | null = null;
  leaderSpan: SpanContext | undefined = undefined;
  failure: OriginFailure | null = null;
  /** A Range miss that stores its 206 as a part (RFC 9111 §3.3): the part stored so far, if any. */
  part: { stored: CachedResponse | undefined } | null = null;
  synth: SynthAnswer | null = null;

  // ── what happened ──
  record: RequestRecord = UNANSWERED;
  /** The Cache-Status value sent, derived from the record. */
  cacheStatus = '';
  /** Set when the client goes away before the response is complete. */
  aborted = false;
  /** performance.now() at arrival. */
  readonly t0: number;
  /** Milliseconds spent in each tier's lookup and waiting for the origin's headers; -1 when not consulted. */
  l1Ms = -1;
  l2Ms = -1;
  originMs = -1;
  bodyBytes = 0;
  span: Span | null = null;
  otelContext: Context | null = null;

  constructor(
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
    readonly method: string,
  ) {
    this.t0 = performance.now();
  }
}
