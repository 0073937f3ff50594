import type { IncomingHttpHeaders, ServerResponse } from 'node:http';
import { Inject, Injectable } from '@nestjs/common';
import type { Readable } from 'node:stream';
import type { Context, Span } from '@opentelemetry/api';
import { Dispatcher, errors } from 'undici';
import type { Logger } from 'pino';
import { CachedResponse, CachedResponseInput, createCachedResponse, deliverySlots, StoreOptions, storedFields, storedPart } from '../cache/cached-response';
import { TieredCache } from '../cache/tiered-cache';
import { LOGGER } from '../common/logger';
import { deliveryHeaders, TiercelConfig } from '../config/config';
import { TIERCEL_CONFIG } from '../config/config.module';
import { InvalidationService } from '../invalidation/invalidation.service';
import type { CacheControl } from '../http-cache/cache-control';
import { isConditional, validatorsMatch } from '../http-cache/conditional';
import { correctedInitialAge, FreshnessPolicy } from '../http-cache/freshness';
import { firstValue, ResponseFields } from '../http-cache/headers';
import { unsafeMethodTargets } from '../http-cache/invalidation-targets';
import { mergeNotModified } from '../http-cache/not-modified';
import { postNamesItsTarget } from '../http-cache/storability';
import { combineParts, isWhole, parseContentRange, receivedPart, strongValidatorsMatch } from '../http-cache/partial';
import { contentLength, decideStore, responseDirectives, StoreDecision, storedFreshness } from '../http-cache/store-decision';
import type { Rule } from '../policy/policy';
import { isOriginError } from '../http-cache/stale-if-error';
import { parseTags } from '../invalidation/invalidation';
import { FillPurpose, FillResult, RequestCounters } from '../telemetry/request-counters';
import { RequestTelemetry } from '../telemetry/request-telemetry';
import type { FillHandle, FillHead } from './fill-handle';
import { FillLock, FillOutcome, FillPermit, NOT_STORED, OriginFailure } from './fill-lock';
import type { HitForPass } from './hit-for-pass';
import { classifyUpstreamError, dispatchAsterisk, idleLimited, UpstreamClient, UpstreamTarget } from './upstream.client';

/** Methods that never change state (RFC 9110 §9.2.1): no invalidation after them. */
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE']);
/** Methods a retry cannot make do more than once (RFC 9110 §9.2.2). */
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']);
/** A body nobody needs is read up to this many bytes to keep its connection; past it the connection goes (undici's dump() bound). */
const DRAIN_LIMIT = 128 * 1024;

/** What every fill shares: the cache it stores into and the rules it stores by. */
export interface FillContext {
  cache: TieredCache;
  hitForPass: HitForPass;
  counters: RequestCounters;
  telemetry: RequestTelemetry;
  log: Logger;
  /** RFC 9111 §4.4: the URLs a successful unsafe request invalidates, on every instance. */
  invalidate(keys: string[], parent: Context | null): void;
  freshness: FreshnessPolicy;
  storeOptions: StoreOptions;
  surrogateName: string | null;
  maxObjectBytes: number;
  upstreamTimeoutMs: number;
  requestBodyTimeoutMs: number;
}

/** Makes fills, all sharing one FillContext. */
@Injectable()
export class FillFactory {
  readonly context: FillContext;

  constructor(
    @Inject(TIERCEL_CONFIG) config: TiercelConfig,
    cache: TieredCache,
    lock: FillLock,
    counters: RequestCounters,
    telemetry: RequestTelemetry,
    invalidation: InvalidationService,
    upstream: UpstreamClient,
    @Inject(LOGGER) log: Logger,
  ) {
    this.context = {
      cache,
      hitForPass: lock.hitForPass,
      counters,
      telemetry,
      log,
      invalidate: (keys, parent) =>
        void invalidation.invalidate({ target: { kind: 'urls', keys }, soft: false }, 'unsafe-method', parent ?? undefined)
          .catch((err: unknown) => log.warn({ err }, 'invalidation after unsafe method failed')),
      freshness: config.cache,
      storeOptions: {
        via: config.proxy.addVia ? `1.1 ${config.cache.name}` : null,
        slots: deliverySlots(deliveryHeaders(config)),
        stripSetCookie: config.cache.stripSetCookie,
        stripTags: config.invalidation.stripTagHeaders,
      },
      surrogateName: upstream.isReverse ? config.cache.name : null,
      maxObjectBytes: config.cache.maxObjectBytes,
      upstreamTimeoutMs: config.proxy.upstreamTimeoutMs,
      requestBodyTimeoutMs: config.proxy.requestBodyTimeoutMs,
    };
  }

  start(spec: FillSpec): Fill {
    return new Fill(this.context, spec);
  }
}

/** Freshness the origin gave explicitly (RFC 9111 §4.2.1), as a POST response needs to be stored. */
const EXPLICIT = new Set(['s-maxage', 'max-age', 'expires']);

/** One origin fetch, as the request that starts it describes it. */
export interface FillSpec {
  purpose: FillPurpose;
  /** The URL and variant: hit-for-pass is remembered under it. */
  key: string;
  primaryKey: string;
  path: string;
  method: string;
  target: UpstreamTarget;
  /** The request as the origin sees it (built by origin-headers.ts). */
  headers: string[];
  body: Readable | null;
  /** The stored object being validated (revalidate, refresh). */
  stale: CachedResponse | undefined;
  requestCc: CacheControl | null;
  /** The client's request fields: the variant a stored response goes under, Authorization. */
  requestHeaders: IncomingHttpHeaders;
  otelContext: Context | null;
  /** The lock's permit when this fill leads a key; settled once the outcome is known. */
  permit: FillPermit | null;
  /** This key was remembered as uncacheable; a storable answer clears that. */
  hitForPass: boolean;
  /** Where the origin's interim (1xx) responses go as they arrive: the client that started the fill; null for nobody. */
  interim: ((status: number, headers: Record<string, string | string[] | undefined>) => void) | null;
  /**
   * A Range request (RFC 9111 §3.3, §3.4): a 206 is stored as a part under primaryKey, combined
   * with the part already stored when they are of one representation, and stored whole under
   * wholeKey once the parts cover it; a 200 answer is stored under wholeKey.
   */
  part: { stored: CachedResponse | undefined; wholeKey: string } | null;
  /** The operator's rule that matched the request (freshness, grace, key, limits), if any. */
  rule: Rule | null;
}

/**
 * The origin work for one key, apart from any client (Varnish's busy object and fetch task).
 * It keeps going when the client that started it leaves, as long as the response will be
 * stored; it is aborted when nobody needs it any more. A background refresh is a fill nobody
 * delivers. The body is streamed to the delivering client under its backpressure while a copy
 * is kept for the store; only a whole body is stored.
 */
export class Fill implements FillHandle, Dispatcher.DispatchHandler {
  readonly head: Promise<FillHead>;
  /** Milliseconds until the origin's response headers arrived; -1 before. */
  originMs = -1;
  /** Body bytes received from the origin. */
  bytes = 0;
  private resolveHead!: (head: FillHead) => void;
  private resolvePipe: ((whole: boolean) => void) | null = null;
  /** undici's handle on the exchange: pause, resume, abort. Null before the request starts. */
  private controller: Dispatcher.DispatchController | null = null;
  /** Nobody needs the response any more: the exchange is aborted as soon as it can be. */
  private cancelled = false;
  private sentAt = 0;
  private status = 0;
  private fields: ResponseFields | null = null;
  private decision: StoreDecision | null = null;
  private requestTime = 0;
  private responseTime = 0;
  /** Whether the body is being kept for the store. */
  private storing = false;
  /** Whether the response may still be stored: before the headers, any fill but a pass may. */
  private mayStore: boolean;
  private sink: ServerResponse | null = null;
  private headOnly = false;
  private piped: Promise<boolean> | null = null;
  /** The body is read only to free the connection (nobody delivers or stores it). */
  private draining = false;
  /** How the body ended: whole (true) or broken (false); null while it is arriving. */
  private complete: boolean | null = null;
  private chunks: Buffer[] | null = null;
  private clientGone = false;
  private ended = false;
  private retried = false;
  /** The connection of its own for the retry, closed once the exchange is over. */
  private retryClient: Dispatcher | null = null;
  private resumeOnDrain: (() => void) | null = null;
  private clientSpan: Span | null = null;
  /** The object cap and Set-Cookie handling: the rule's, else the configuration's. */
  private readonly maxObjectBytes: number;
  private readonly storeOptions: StoreOptions;

  constructor(private readonly ctx: FillContext, readonly spec: FillSpec) {
    this.mayStore = spec.purpose !== 'pass';
    const rule = spec.rule;
    this.maxObjectBytes = rule?.maxObjectBytes ?? ctx.maxObjectBytes;
    const strip = rule?.stripSetCookie ?? ctx.storeOptions.stripSetCookie;
    this.storeOptions = strip === ctx.storeOptions.stripSetCookie ? ctx.storeOptions : { ...ctx.storeOptions, stripSetCookie: strip };
    this.head = new Promise<FillHead>((resolve) => {
      this.resolveHead = resolve;
    });
    this.start();
  }

  /**
   * Streams the body to the client (null: nobody delivers it; it is read only to be stored).
   * Resolves true when the body arrived whole, false when it broke. Called once, after head.
   */
  pipe(res: ServerResponse | null, headOnly: boolean): Promise<boolean> {
    if (this.piped !== null) return this.piped;
    this.sink = this.clientGone ? null : res;
    this.headOnly = headOnly;
    if (this.fields === null) {
      this.piped = Promise.resolve(false);
    } else if (!this.storing && this.sink === null) {
      this.drain();
      this.end(this.clientGone ? 'abandoned' : 'not-stored', NOT_STORED);
      this.piped = Promise.resolve(true);
    } else if (this.complete !== null) {
      // The exchange ended between the headers and this call (a HEAD answer has no body to wait for).
      this.piped = Promise.resolve(this.complete);
    } else {
      this.piped = new Promise<boolean>((resolve) => {
        this.resolvePipe = resolve;
      });
      this.controller?.resume();
    }
    return this.piped;
  }

  /**
   * The delivering client left. The fill goes on while someone needs it: before the origin's
   * headers, while others wait on it; after them, while the response is being stored.
   */
  detach(): void {
    this.clientGone = true;
    const had = this.sink;
    this.sink = null;
    const waited = (this.spec.permit?.waiting ?? 0) > 0;
    if (!this.mayStore || (this.fields === null && !waited)) {
      this.cancel();
      return;
    }
    if (had !== null) this.controller?.resume();
    // Headers are in and no step will pipe any more: read the body for the store.
    if (this.fields !== null && this.piped === null) void this.pipe(null, true);
  }

  private start(): void {
    const { spec, ctx } = this;
    this.clientSpan = ctx.telemetry.originStart(spec.otelContext, spec.target, spec.path, spec.method, spec.headers);
    this.requestTime = Date.now();
    this.sentAt = performance.now();
    const body = spec.body === null ? null : idleLimited(spec.body, ctx.requestBodyTimeoutMs);
    this.dispatch(spec.target.dispatcher, body);
  }

  /** The origin request on a dispatcher (OPTIONS *, which undici does not send, by node:http). */
  private dispatch(d: Dispatcher, body: Readable | null): void {
    const { spec } = this;
    try {
      if (spec.path === '*') dispatchAsterisk(spec.target, spec.headers, this.ctx.upstreamTimeoutMs, this);
      else d.dispatch({ origin: spec.target.origin, path: spec.path, method: spec.method, headers: spec.headers, body }, this);
    } catch (err) {
      this.onResponseError(null, err as Error);
    }
  }

  /** Aborts the exchange: now when it runs, or as soon as undici starts it. */
  private cancel(): void {
    this.cancelled = true;
    this.controller?.abort(new errors.RequestAbortedError());
  }

  // ── undici's dispatch handler: the origin's answer as it arrives ───────────────────────────
  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    if (this.cancelled) controller.abort(new errors.RequestAbortedError());
  }

  onResponseStart(controller: Dispatcher.DispatchController, statusCode: number, headers: IncomingHttpHeaders): void {
    if (statusCode < 200) {
      // Interim responses (1xx) are neither the answer nor stored: passed through to a client still there (RFC 9110 §15.2).
      const interim = this.spec.interim;
      if (interim !== null && !this.clientGone) interim(statusCode, headers);
      return;
    }
    // The body waits until a step pipes it (or drains it).
    controller.pause();
    this.responded(statusCode, headers as ResponseFields);
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    const received = (this.bytes += chunk.length);
    if (this.draining) {
      // As undici's dump(): a body nobody needs is read up to a bound, then the connection goes.
      if (received > DRAIN_LIMIT) controller.abort(new errors.RequestAbortedError());
      return;
    }
    const chunks = this.chunks;
    if (chunks !== null) {
      if (received > this.maxObjectBytes) {
        this.storing = false;
        this.mayStore = false;
        this.chunks = null;
        this.ctx.hitForPass.mark(this.spec.key, 'too-large');
        this.spec.permit?.settle(NOT_STORED);
        if (this.sink === null) {
          this.cancel();
          return;
        }
      } else {
        chunks.push(chunk);
      }
    }
    const sink = this.sink;
    if (sink !== null && !this.headOnly && !sink.write(chunk)) {
      controller.pause();
      sink.once('drain', (this.resumeOnDrain ??= () => this.controller?.resume()));
    }
  }

  onResponseEnd(): void {
    this.complete = true;
    this.closeRetryClient();
    this.clientSpan?.end();
    this.clientSpan = null;
    if (this.draining) return;
    const { spec, ctx } = this;
    const resolve = this.resolvePipe;
    this.resolvePipe = null;
    if (!this.storing) {
      this.end('not-stored', NOT_STORED);
      resolve?.(true);
      return;
    }
    const received = this.bytes;
    const fields = this.fields!;
    const expected = contentLength(fields['content-length']);
    if (expected !== null && received !== expected && spec.method !== 'HEAD') {
      this.end('incomplete', NOT_STORED);
      resolve?.(true);
      return;
    }
    const d = this.decision!;
    const chunks = this.chunks ?? [];
    this.chunks = null;
    const input = { status: this.status, fields, body: chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, received), cc: d.responseCc, freshness: d.freshness, varyNames: withKeyFields(d.vary.names, this.spec.rule), tags: parseTags(fields['surrogate-key'], fields['cache-tag']), requestTime: this.requestTime, responseTime: this.responseTime };
    const part = spec.part;
    if (part === null) this.store(createCachedResponse(input, this.storeOptions), spec.primaryKey);
    else if (input.status !== 206) this.store(createCachedResponse(input, this.storeOptions), part.wholeKey);
    else if (!this.storePart(input, part)) {
      this.end('not-stored', NOT_STORED);
      resolve?.(true);
      return;
    }
    this.end('stored', { stored: true, failure: null });
    resolve?.(true);
  }

  onResponseError(_controller: Dispatcher.DispatchController | null, err: Error): void {
    const { spec, ctx } = this;
    if (this.fields === null) {
      if (this.retryable(err)) return this.retry();
      this.closeRetryClient();
      return this.failed(err);
    }
    this.complete = false;
    this.closeRetryClient();
    this.chunks = null;
    const resolve = this.resolvePipe;
    this.resolvePipe = null;
    if (this.draining) {
      this.end('not-stored', NOT_STORED);
      return;
    }
    // The body broke: nothing is stored, and the client's response is cut.
    if (this.cancelled) {
      this.end('abandoned', NOT_STORED);
    } else {
      const reason = classifyUpstreamError(err).reason;
      ctx.counters.originFailed(reason);
      ctx.telemetry.originFailed(this.clientSpan, reason, err);
      this.clientSpan = null;
      if (!this.clientGone) ctx.log.warn({ origin: spec.target.origin, path: spec.path, reason, error: err.message }, 'origin response failed');
      this.end(this.storing ? 'incomplete' : 'failed', { stored: false, failure: { status: 0, reason } });
    }
    resolve?.(false);
  }

  /** No response: the origin could not be reached, timed out, or the fill was cancelled. */
  private failed(error: unknown): void {
    const { ctx } = this;
    this.originMs = performance.now() - this.sentAt;
    const c = classifyUpstreamError(error);
    const failure: OriginFailure = { status: 0, reason: c.reason };
    if (this.cancelled) {
      this.end('abandoned', NOT_STORED);
    } else {
      ctx.counters.originFailed(c.reason);
      ctx.telemetry.originFailed(this.clientSpan, c.reason, error);
      this.clientSpan = null;
      this.end('failed', { stored: false, failure });
    }
    this.resolveHead({ kind: 'failed', failure, gatewayStatus: c.status, error });
  }

  /** The origin's response headers are in: what the response is, and whether it will be stored. */
  private responded(status: number, fields: ResponseFields): void {
    const { spec, ctx } = this;
    this.status = status;
    this.fields = fields;
    this.responseTime = Date.now();
    this.originMs = performance.now() - this.sentAt;
    ctx.telemetry.originEnd(this.clientSpan, status, this.originMs / 1000);

    if (!SAFE_METHODS.has(spec.method) && status < 400) ctx.invalidate(unsafeMethodTargets(spec.primaryKey, spec.path, fields), spec.otelContext);

    let refusal: StoreDecision['refusal'] | 'pass' | 'origin-error' = null;
    let failure: OriginFailure | null = null;
    const stale = spec.stale;
    if (stale !== undefined && (spec.purpose === 'revalidate' || spec.purpose === 'refresh')) {
      if (status === 304) return this.resolveHead(this.notModified(stale, fields));
      // A 5xx never replaces a stored object: it stays, for stale-if-error and the next try.
      if (isOriginError(status)) {
        refusal = 'origin-error';
        failure = { status, reason: 'origin-error' };
      } else if (spec.purpose === 'refresh' && status !== 200) {
        refusal = 'status';
      }
    }
    // A POST whose response names its own target as Content-Location may be stored for GETs (RFC 9110 §9.3.3).
    const post = spec.purpose === 'pass' && spec.method === 'POST' && spec.part === null && !isConditional(spec.requestHeaders)
      && postNamesItsTarget(fields['content-location'], spec.path);
    if (spec.purpose === 'pass' && !post) {
      refusal = 'pass';
    } else if (refusal === null) {
      this.decision = decideStore({
        method: spec.purpose === 'refresh' || post ? 'GET' : spec.method,
        status,
        fields,
        requestCc: spec.requestCc,
        requestHasAuthorization: spec.requestHeaders.authorization !== undefined,
        responseTime: this.responseTime,
        surrogateName: ctx.surrogateName,
        stripSetCookie: this.storeOptions.stripSetCookie,
        maxObjectBytes: this.maxObjectBytes,
        partialStorage: spec.part !== null,
        rule: spec.rule,
      }, ctx.freshness);
      refusal = this.decision.refusal;
      if (post && refusal === null && !EXPLICIT.has(this.decision.freshness.source)) refusal = 'pass';
      // A 206 without one byte range of known length (multipart/byteranges, `*` lengths) is no part to keep.
      if (spec.part !== null && status === 206 && refusal === null && parseContentRange(firstValue(fields['content-range'])) === null) refusal = 'partial';
    }
    if (refusal !== null && refusal !== 'pass' && spec.purpose === 'miss') ctx.hitForPass.mark(spec.key, refusal);
    if (refusal === null && spec.hitForPass) ctx.hitForPass.clear(spec.key);
    this.storing = refusal === null;
    this.mayStore = this.storing;
    if (this.storing) this.chunks = [];
    // Waiters need not queue behind a response that will not be stored.
    if (!this.storing) spec.permit?.settle({ stored: false, failure });
    if (this.clientGone) void this.pipe(null, true);
    this.resolveHead({
      kind: 'response',
      status,
      fields,
      storing: this.storing,
      refusal,
      // What is left of its freshness: the Age it arrived with has used some of it (RFC 9111 §4.2.3).
      ttlSeconds: this.storing ? Math.floor((this.decision!.freshness.lifetimeMs - correctedInitialAge(firstValue(fields.age), undefined, 0, 0)) / 1000) : null,
      failure,
      governedBy: this.decision !== null && this.decision.governedBy !== 'cache-control' ? this.decision.governedBy : null,
    });
  }

  /** Reads the rest of a body nobody needs, so the connection can carry the next request. */
  private drain(): void {
    this.draining = true;
    this.chunks = null;
    this.controller?.resume();
  }

  /**
   * A request without a body whose connection broke before any response byte (an origin closing
   * idle keep-alive sockets as they are reused) is sent once more, on a connection of its own,
   * when its method is idempotent (RFC 9110 §9.2.2), as nginx and Varnish do.
   */
  private retryable(err: unknown): boolean {
    return !this.retried && this.spec.body === null && IDEMPOTENT.has(this.spec.method) && !this.cancelled && classifyUpstreamError(err).reason === 'reset';
  }

  private retry(): void {
    this.retried = true;
    this.controller = null;
    this.ctx.counters.originRetried();
    const fresh = this.spec.target.fresh();
    this.retryClient = fresh;
    this.dispatch(fresh, null);
  }

  private closeRetryClient(): void {
    const c = this.retryClient;
    if (c === null) return;
    this.retryClient = null;
    void c.close().catch(() => {});
  }

  /** A 304 (RFC 9111 §4.3.4): the stored object updated, stored again; or kept as it was, when it names another validator. */
  private notModified(stale: CachedResponse, fields: ResponseFields): FillHead {
    this.drain();
    if (!validatorsMatch(stale.etag, stale.lastModified, firstValue(fields.etag), firstValue(fields['last-modified']))) {
      this.end('not-stored', NOT_STORED);
      return { kind: 'not-modified', object: stale, validatorMismatch: true };
    }
    const { surrogateName, freshness } = this.ctx;
    const storeOptions = this.storeOptions;
    const merged = mergeNotModified(storedFields(stale.headers, storeOptions.slots.length), fields);
    const stored = storedFreshness(stale.status, merged, responseDirectives(merged, surrogateName), this.responseTime, freshness, this.spec.rule);
    const updated = createCachedResponse(
      { status: stale.status, fields: merged, body: stale.body, cc: stored.cc, freshness: stored.freshness, varyNames: stale.varyNames, tags: stale.tags, requestTime: this.requestTime, responseTime: this.responseTime },
      storeOptions,
    );
    this.store(updated);
    this.end('revalidated', { stored: true, failure: null });
    return { kind: 'not-modified', object: updated, validatorMismatch: false };
  }

  private store(obj: CachedResponse, key = this.spec.primaryKey): void {
    this.ctx.cache.store(key, this.spec.requestHeaders, obj).catch((err: unknown) => this.ctx.log.warn({ err, key }, 'cache write failed'));
  }

  /**
   * A 206 kept as a part (RFC 9111 §3.3), joined to the stored part when both carry the same strong
   * validator (§3.4) and the two stay within the object cap; stored whole once they cover the
   * representation. False when the 206 holds no usable part (no complete length, too many bytes).
   */
  private storePart(input: CachedResponseInput, part: { stored: CachedResponse | undefined; wholeKey: string }): boolean {
    let p = receivedPart(firstValue(input.fields['content-range']), input.body);
    if (p === null) return false;
    const prior = part.stored === undefined ? null : storedPart(part.stored);
    if (prior !== null && strongValidatorsMatch(part.stored!.etag, firstValue(input.fields.etag))) {
      const joined = combineParts(prior, p);
      if (joined !== null && joined.body.length <= this.maxObjectBytes) p = joined;
    }
    const fields: ResponseFields = { ...input.fields };
    if (isWhole(p)) {
      delete fields['content-range'];
      this.store(createCachedResponse({ ...input, status: 200, fields, body: p.body }, this.storeOptions), part.wholeKey);
    } else {
      fields['content-range'] = `bytes ${p.start}-${p.start + p.body.length - 1}/${p.complete}`;
      this.store(createCachedResponse({ ...input, fields, body: p.body }, this.storeOptions));
    }
    return true;
  }

  /** Once per fill: counted, the permit settled (waking the waiters), the origin span ended. */
  private end(result: FillResult, outcome: FillOutcome): void {
    if (this.ended) return;
    this.ended = true;
    this.ctx.counters.fillEnded(this.spec.purpose, result);
    this.spec.permit?.settle(outcome);
    this.clientSpan?.end();
    this.clientSpan = null;
  }
}

/**
 * The Vary names a response is stored under: the origin's, plus the request fields and cookies
 * the rule's key adds, so those select a variant under the URL's one slot (and invalidation by
 * URL removes them all).
 */
function withKeyFields(names: readonly string[], rule: Rule | null): readonly string[] {
  if (rule === null || rule.varyExtra.length === 0) return names;
  return [...new Set([...names, ...rule.varyExtra])].sort();
}
