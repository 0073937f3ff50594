import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Dispatcher } from 'undici';
import type { Logger } from 'pino';
import { deliveryHeaders, TiercelConfig } from '../config/config';
import { CachedResponse } from '../cache/cache-entry';
import { createCachedResponse, firstValue, ResponseFields, StoreOptions, storedFields, trailerTemplate } from '../cache/cached-response';
import { CacheStats } from '../cache/cache-stats';
import { HttpCache } from '../cache/http-cache';
import { CacheControl, EMPTY_CACHE_CONTROL, parseCacheControl } from '../http-cache/cache-control';
import { ForwardReason, forwardStatus, hitStatus } from '../http-cache/cache-status';
import { notModified, isConditional, validatorsMatch } from '../http-cache/conditional';
import { Freshness, freshnessLifetime } from '../http-cache/freshness';
import { connectionTokens, isHopByHop, KEPT_IN_304, NOT_UPDATED_BY_304 } from '../http-cache/headers';
import { ifRangeMatches, parseRange } from '../http-cache/range';
import { currentAge, reuse } from '../http-cache/reuse';
import { StoreRefusal, storeRefusal } from '../http-cache/storability';
import { surrogateCapability, surrogateControlFor } from '../http-cache/surrogate-control';
import { normalizeAcceptEncoding, ParsedVary, parseVary } from '../http-cache/vary';
import { parseTags } from '../invalidation/invalidation';
import { InvalidationService } from '../invalidation/invalidation.service';
import { RequestTelemetry, traceFields } from '../telemetry/request-telemetry';
import type { Outcome } from '../telemetry/hot-path-metrics';
import { Coalescer, FlightResult } from './coalescer';
import { RequestContext } from './request-context';
import { classifyUpstreamError, UpstreamClient } from './upstream.client';

/**
 * How a fetch treats the origin's answer:
 * - miss: store it if the rules allow, deliver it;
 * - pass: deliver it, never store;
 * - revalidate: conditional, on behalf of a waiting client, with the stale object as fallback;
 * - refresh: conditional, in the background; the client was already served.
 */
type FetchMode = 'miss' | 'pass' | 'revalidate' | 'refresh';

/** Methods that never change state (RFC 9110 §9.2.1): no invalidation after them. */
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE']);

/** Request fields Tiercel sets itself or that make no sense upstream. */
const REQUEST_FIELDS_REPLACED = new Set(['host', 'expect', 'x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host']);
const CONDITIONAL_FIELDS = new Set(['if-none-match', 'if-modified-since', 'if-range']);

/**
 * The request lifecycle as named steps, after Varnish: receive → lookup → hit | miss | pass →
 * fetch → store → deliver. Each step decides the next; this file is the map of the data plane.
 */
export class RequestLifecycle {
  private readonly name: string;
  private readonly via: string | null;
  /** Length of the per-delivery header slots, and where Server-Timing sits in them (-1: absent). */
  private readonly trailer: number;
  private readonly serverTimingSlot: number;
  /** Our Surrogate-Capability entry; set in reverse mode, where Tiercel acts for the origin as its surrogate. */
  private readonly surrogate: string | null;
  private readonly refreshing = new Set<string>();
  private readonly storeOptions: StoreOptions;
  private readonly stripTags: boolean;

  constructor(
    private readonly config: TiercelConfig,
    private readonly cache: HttpCache,
    private readonly stats: CacheStats,
    private readonly upstream: UpstreamClient,
    private readonly coalescer: Coalescer,
    private readonly invalidation: InvalidationService,
    private readonly telemetry: RequestTelemetry,
    private readonly log: Logger,
  ) {
    this.name = config.cache.name;
    this.via = config.proxy.addVia ? `1.1 ${config.cache.name}` : null;
    const trailer = trailerTemplate(deliveryHeaders(config));
    this.trailer = trailer.length;
    const st = trailer.indexOf('server-timing');
    this.serverTimingSlot = st === -1 ? -1 : st + 1;
    this.stripTags = config.invalidation.stripTagHeaders;
    this.storeOptions = { via: this.via, xCacheHeader: config.cache.xCacheHeader, trailer, stripSetCookie: config.cache.stripSetCookie, stripTags: this.stripTags };
    this.surrogate = upstream.isReverse ? surrogateCapability(config.cache.name) : null;
  }

  /** Entry point for each request on the data port. */
  handle(req: IncomingMessage, res: ServerResponse): void {
    const ctx = new RequestContext(req, res, req.method ?? 'GET', Date.now());
    this.telemetry.begin(ctx);
    res.on('close', () => this.finish(ctx));
    try {
      this.receive(ctx);
    } catch (err) {
      this.fail(ctx, err);
    }
  }

  /** The response ended or the client left: abort the origin request if it is still running, then telemetry. */
  private finish(ctx: RequestContext): void {
    if (!ctx.res.writableFinished) {
      ctx.aborted = true;
      ctx.abort?.abort();
    }
    this.telemetry.end(ctx);
  }

  // ── receive ────────────────────────────────────────────────────────────────────────────────
  private receive(ctx: RequestContext): void {
    const { req } = ctx;
    const url = req.url ?? '/';
    const reverse = this.upstream.reverseTarget;
    if (reverse !== null) {
      ctx.target = reverse;
      if (url.charCodeAt(0) === 47 /* / */) {
        ctx.path = url;
      } else if (url === '*' && ctx.method === 'OPTIONS') {
        ctx.path = '*';
      } else {
        // RFC 9112 §3.2.2: a server accepts absolute-form too; only its path goes upstream.
        const parsed = safeUrl(url);
        if (parsed === null) return this.synth(ctx, 400, 'Bad Request: unparseable request target', 'bypass', 'bad-request');
        ctx.path = parsed.pathname + parsed.search;
      }
      ctx.primaryKey = hostKey(req.headers.host ?? reverse.host) + ctx.path;
    } else {
      if (!this.config.proxy.allowedClients.contains(req.socket.remoteAddress)) {
        return this.synth(ctx, 403, 'Forbidden: this client may not use the proxy (see ALLOWED_CLIENTS)', 'bypass', 'client-denied');
      }
      const parsed = url.startsWith('http://') || url.startsWith('https://') ? safeUrl(url) : null;
      if (parsed === null) {
        return this.synth(ctx, 400, 'Bad Request: Tiercel runs as a forward proxy here; send an absolute-form request (curl -x), or set UPSTREAM_URL for reverse mode', 'bypass', 'not-absolute-form');
      }
      ctx.target = this.upstream.forwardTarget(parsed);
      ctx.path = parsed.pathname + parsed.search;
      ctx.primaryKey = (parsed.protocol === 'https:' ? 'https://' : '') + parsed.host + ctx.path;
    }

    if (ctx.method === 'GET' || ctx.method === 'HEAD') return this.lookup(ctx);
    if (ctx.method === 'PURGE') return this.purge(ctx);
    this.stats.passes++;
    return this.pass(ctx, 'method');
  }

  // ── lookup ─────────────────────────────────────────────────────────────────────────────────
  private lookup(ctx: RequestContext): void {
    const headers = ctx.req.headers;
    const ccHeader = headers['cache-control'];
    if (ccHeader !== undefined) ctx.requestCc = parseCacheControl(ccHeader);
    // RFC 9111 §5.4: Pragma: no-cache counts as no-cache when Cache-Control is absent.
    else if (headers.pragma !== undefined && /(^|,)\s*no-cache\s*(,|$)/i.test(headers.pragma)) ctx.requestCc = parseCacheControl('no-cache');

    const t = performance.now();
    this.cache.lookup(ctx.primaryKey, headers, ctx.lookup);
    this.telemetry.lookedUp(ctx, 'l1', ctx.lookup.found !== undefined, t, performance.now() - t);
    if (ctx.lookup.found !== undefined || this.cache.l2 === null) return this.afterLookup(ctx);
    const t2 = performance.now();
    this.cache.lookupL2(ctx.primaryKey, headers, ctx.lookup).then(
      () => {
        this.telemetry.lookedUp(ctx, 'l2', ctx.lookup.found !== undefined, t2, performance.now() - t2);
        this.afterLookup(ctx);
      },
      (err) => this.fail(ctx, err),
    );
  }

  /** What a lookup found decides the next step: hit, revalidate, or miss. */
  private afterLookup(ctx: RequestContext): void {
    if (ctx.aborted) return;
    const found = ctx.lookup.found;
    const now = Date.now();
    if (found !== undefined) {
      switch (reuse(found, now, ctx.requestCc)) {
        case 'fresh':
          return this.hit(ctx, found, now, 'hit');
        case 'stale-ok':
          this.stats.staleServed++;
          return this.hit(ctx, found, now, 'stale');
        case 'stale-refresh':
          this.stats.staleServed++;
          this.hit(ctx, found, now, 'stale');
          return this.refreshInBackground(ctx, found);
        case 'revalidate':
          if (ctx.requestCc?.onlyIfCached) return this.synth(ctx, 504, 'Gateway Timeout: only-if-cached and the stored response needs validation', 'miss', 'only-if-cached');
          this.stats.misses++;
          return void this.fetch(ctx, 'revalidate', found, ctx.requestCc?.noCache ? 'request' : 'stale');
      }
    }
    // §5.2.1.7: only-if-cached with nothing usable stored answers 504.
    if (ctx.requestCc?.onlyIfCached) return this.synth(ctx, 504, 'Gateway Timeout: only-if-cached and nothing is stored', ctx.lookup.miss, 'only-if-cached');
    this.stats.misses++;
    return this.miss(ctx);
  }

  // ── hit ────────────────────────────────────────────────────────────────────────────────────
  private hit(ctx: RequestContext, obj: CachedResponse, now: number, outcome: Outcome): void {
    this.stats.hits++;
    const tier = ctx.lookup.tier;
    ctx.servedBy = tier;
    ctx.outcome = outcome;
    if (tier === 'l1') this.stats.l1Hits++;
    else this.stats.l2Hits++;
    const ageMs = currentAge(obj, now);
    this.deliverStored(ctx, obj, ageMs, hitStatus(this.name, tier, Math.floor((obj.lifetimeMs - ageMs) / 1000)));
  }

  // ── miss ───────────────────────────────────────────────────────────────────────────────────
  private miss(ctx: RequestContext): void {
    const reason = ctx.lookup.miss;
    const headers = ctx.req.headers;
    // HEAD and Range misses go to the origin as they are; their answers are not full objects.
    if (ctx.method === 'HEAD' || headers.range !== undefined) return this.pass(ctx, reason, ctx.method === 'HEAD' ? 'head' : 'range');
    const key = ctx.lookup.key;
    if (this.coalescer.isPass(key)) return void this.fetch(ctx, 'miss', undefined, reason, undefined, 'hit-for-pass');
    const joined = this.coalescer.join(key, ctx.span?.spanContext());
    if (joined === null) return void this.fetch(ctx, 'miss', undefined, reason);
    if ('lead' in joined) {
      if (this.cache.l2 === null) return void this.fetch(ctx, 'miss', undefined, reason, joined.lead);
      return void this.leadAcrossInstances(ctx, reason, joined.lead).catch((err) => this.fail(ctx, err));
    }
    joined.wait.then(
      (result) => {
        this.telemetry.linkTo(ctx, joined.leader(), 'coalesced-leader');
        this.afterWait(ctx, result);
      },
      (err) => this.fail(ctx, err),
    );
  }

  /**
   * Cross-instance coalescing: the local leader takes a short Redis lease on the URL before
   * fetching. Without it, another instance is fetching: wait (bounded) for its fill to reach
   * L2, then serve that, or fetch alone when the lease ends without one.
   */
  private async leadAcrossInstances(ctx: RequestContext, reason: ForwardReason, done: (r: FlightResult) => void): Promise<void> {
    const l2 = this.cache.l2!;
    if (await l2.acquireLease(ctx.primaryKey)) return this.fetch(ctx, 'miss', undefined, reason, done, undefined, true);
    const deadline = Date.now() + Math.min(this.config.cache.coalesceTimeoutMs, l2.leaseMs);
    while (Date.now() < deadline && !ctx.aborted) {
      await sleep(L2_FILL_POLL_MS);
      // The lease first, then L2: a holder that stored and released between the two is still seen.
      const held = await l2.leaseHeld(ctx.primaryKey);
      await this.cache.lookupL2(ctx.primaryKey, ctx.req.headers, ctx.lookup, false);
      const found = ctx.lookup.found;
      const now = Date.now();
      if (found !== undefined && reuse(found, now, ctx.requestCc) !== 'revalidate') {
        done('stored');
        this.stats.coalesced++;
        ctx.servedBy = 'l2';
        ctx.outcome = 'miss';
        const ageMs = currentAge(found, now);
        return this.deliverStored(ctx, found, ageMs, forwardStatus(this.name, { fwd: reason, fwdStatus: found.status, collapsed: true, ttlSeconds: Math.floor((found.lifetimeMs - ageMs) / 1000), detail: 'l2' }));
      }
      if (!held) break;
    }
    // No fill came: the response was uncacheable or the other fetch failed. This instance's
    // waiters need not queue behind its own fetch too: they go to the origin alongside it.
    done('not-stored');
    if (ctx.aborted) return;
    return this.fetch(ctx, 'miss', undefined, reason);
  }

  /** A coalesced request wakes: serve the leader's stored object, or fetch alone. */
  private afterWait(ctx: RequestContext, result: FlightResult | 'timeout'): void {
    if (ctx.aborted) return;
    if (result === 'stored') {
      this.cache.lookup(ctx.primaryKey, ctx.req.headers, ctx.lookup);
      const found = ctx.lookup.found;
      const now = Date.now();
      if (found !== undefined && reuse(found, now, ctx.requestCc) !== 'revalidate') {
        this.stats.coalesced++;
        ctx.servedBy = 'l1';
        ctx.outcome = 'miss';
        const ageMs = currentAge(found, now);
        const status = forwardStatus(this.name, { fwd: 'uri-miss', fwdStatus: found.status, collapsed: true, ttlSeconds: Math.floor((found.lifetimeMs - ageMs) / 1000) });
        return this.deliverStored(ctx, found, ageMs, status);
      }
    }
    void this.fetch(ctx, 'miss', undefined, ctx.lookup.miss, undefined, result === 'timeout' ? 'collapse-timeout' : undefined);
  }

  // ── pass ───────────────────────────────────────────────────────────────────────────────────
  private pass(ctx: RequestContext, reason: ForwardReason, detail?: string): void {
    void this.fetch(ctx, 'pass', undefined, reason, undefined, detail);
  }

  private refreshInBackground(ctx: RequestContext, stale: CachedResponse): void {
    const key = ctx.lookup.key;
    if (this.refreshing.has(key)) return;
    this.refreshing.add(key);
    this.stats.backgroundRefreshes++;
    // The background fetch must outlive the client's request: it gets its own context.
    const bg = new RequestContext(ctx.req, ctx.res, 'GET', Date.now());
    bg.primaryKey = ctx.primaryKey;
    bg.path = ctx.path;
    bg.target = ctx.target;
    Object.assign(bg.lookup, ctx.lookup);
    const traced = this.telemetry.backgroundSpan(ctx, 'cache.refresh');
    if (traced) {
      bg.span = traced.span;
      bg.otelContext = traced.context;
    }
    this.fetch(bg, 'refresh', stale, 'stale')
      .catch((err) => {
        this.stats.backgroundRefreshErrors++;
        this.log.warn({ err, key, ...traceFields(bg) }, 'background refresh failed');
      })
      .finally(() => {
        this.refreshing.delete(key);
        bg.span?.end();
      });
  }

  // ── fetch ──────────────────────────────────────────────────────────────────────────────────
  /** fetchOrigin, with any unexpected error answered as a 500 rather than left to reject unseen. */
  private fetch(
    ctx: RequestContext,
    mode: FetchMode,
    stale: CachedResponse | undefined,
    reason: ForwardReason,
    leaderDone?: (r: FlightResult) => void,
    detail?: string,
    holdsLease = false,
  ): Promise<void> {
    return this.fetchOrigin(ctx, mode, stale, reason, leaderDone, detail, holdsLease).catch((err: unknown) => {
      leaderDone?.('not-stored');
      if (holdsLease) this.cache.l2?.releaseLease(ctx.primaryKey);
      if (mode === 'refresh') throw err;
      this.fail(ctx, err);
    });
  }

  private async fetchOrigin(
    ctx: RequestContext,
    mode: FetchMode,
    stale: CachedResponse | undefined,
    reason: ForwardReason,
    leaderDone?: (r: FlightResult) => void,
    detail?: string,
    holdsLease = false,
  ): Promise<void> {
    const { req, res } = ctx;
    const background = mode === 'refresh';
    let flight: FlightResult = 'not-stored';
    let keep = false;
    const abort = new AbortController();
    if (!background) ctx.abort = abort;
    const method = mode === 'refresh' ? 'GET' : ctx.method;
    const upstreamHeaders = this.upstreamHeaders(ctx, mode, stale);
    const clientSpan = this.telemetry.originStart(ctx, method, upstreamHeaders);
    const requestTime = Date.now();
    const sentAt = performance.now();
    let response: Dispatcher.ResponseData;
    try {
      response = await ctx.target!.dispatcher.request({
        origin: ctx.target!.origin,
        path: ctx.path,
        method,
        headers: upstreamHeaders,
        body: !background && hasBody(req) ? req : null,
        signal: abort.signal,
      });
    } catch (err) {
      leaderDone?.('not-stored');
      if (holdsLease) this.cache.l2?.releaseLease(ctx.primaryKey);
      this.stats.upstreamErrors++;
      const failure = classifyUpstreamError(err);
      ctx.originMs = performance.now() - sentAt;
      this.telemetry.originFailed(clientSpan, failure.reason, err);
      if (background) throw err;
      if (ctx.aborted) return;
      // RFC 5861 §4 and RFC 9111 §4.2.4: a stale object may stand in when the origin is unreachable.
      if (stale !== undefined && this.staleIfErrorAllows(ctx, stale)) return this.serveStaleOnError(ctx, stale, 0, failure.reason);
      this.log.warn({ err, origin: ctx.target!.origin, path: ctx.path, ...traceFields(ctx) }, 'upstream request failed');
      const body = failure.status === 504 ? 'Gateway Timeout: the origin did not answer in time\n' : `Bad Gateway: the origin could not be reached (${failure.reason})\n`;
      return this.synth(ctx, failure.status, body, reason, failure.reason);
    }
    const responseTime = Date.now();
    const status = response.statusCode;
    const fields = response.headers as ResponseFields;
    ctx.originMs = performance.now() - sentAt;
    this.telemetry.originEnd(clientSpan, status, ctx.originMs / 1000);

    try {
      // RFC 9111 §4.4: a successful unsafe request invalidates the URI and its Location/Content-Location.
      if (!SAFE_METHODS.has(ctx.method) && status < 400) this.invalidateAfterUnsafe(ctx, fields);

      if (stale !== undefined && (mode === 'revalidate' || mode === 'refresh')) {
        if (status === 304) {
          response.body.dump().catch(() => {});
          if (!validatorsMatch(stale.etag, stale.lastModified, firstValue(fields.etag), firstValue(fields['last-modified']))) {
            // RFC 9111 §4.3.4: a 304 whose validator names another representation must not update
            // this one. It still answered our condition on the stored validator, so the stored
            // response goes out once as it is; the next request validates again.
            if (background) return;
            ctx.servedBy = ctx.lookup.tier;
            ctx.outcome = 'revalidated';
            const ageMs = currentAge(stale, Date.now());
            return this.deliverStored(ctx, stale, ageMs, forwardStatus(this.name, { fwd: reason, fwdStatus: 304, ttlSeconds: Math.floor((stale.lifetimeMs - ageMs) / 1000), detail: 'validator-mismatch' }));
          }
          const updated = this.freshen(stale, fields, requestTime, responseTime);
          this.store(ctx, updated);
          this.stats.revalidations++;
          if (background) return;
          ctx.servedBy = ctx.lookup.tier;
          ctx.outcome = 'revalidated';
          const ageMs = currentAge(updated, Date.now());
          return this.deliverStored(ctx, updated, ageMs, forwardStatus(this.name, { fwd: reason, fwdStatus: 304, ttlSeconds: Math.floor((updated.lifetimeMs - ageMs) / 1000) }));
        }
        if (status >= 500) {
          response.body.dump().catch(() => {});
          // A failed refresh never replaces a good object.
          if (background) return;
          if (this.staleIfErrorAllows(ctx, stale)) return this.serveStaleOnError(ctx, stale, status, 'origin-error');
        } else if (background && status !== 200) {
          response.body.dump().catch(() => {});
          return;
        }
      }

      // ── store (decide) ──
      const decision = mode === 'pass' ? PASS_DECISION : this.storeDecision(ctx, mode, status, fields, responseTime);
      let refusal = decision.refusal;
      const { responseCc, vary, freshness } = decision;
      const contentLength = parseContentLength(fields['content-length']);
      if (refusal === null && contentLength !== null && contentLength > this.config.cache.maxObjectBytes) refusal = 'too-large';
      if (refusal !== null && refusal !== 'pass' && mode === 'miss') {
        // Uncacheable: later misses on this key skip the waiting list for a while.
        this.coalescer.markPass(ctx.lookup.key);
        leaderDone?.('not-stored');
        leaderDone = undefined;
      }
      if (refusal === null && mode === 'miss' && detail === 'hit-for-pass') this.coalescer.clearPass(ctx.lookup.key);
      if (refusal !== null && background) {
        response.body.dump().catch(() => {});
        return;
      }

      // ── deliver (headers) ──
      const storing = refusal === null;
      const toClient = !background && !ctx.aborted;
      ctx.servedBy = 'origin';
      ctx.outcome = mode === 'pass' ? (reason === 'method' ? 'bypass' : 'miss') : 'miss';
      // The client's own conditions were held back so the whole object could be stored; answer them now.
      const answer304 = toClient && storing && status === 200 && isConditional(req.headers)
        && notModified(req.headers, firstValue(fields.etag), firstValue(fields['last-modified']), firstValue(fields.date));
      if (answer304) {
        const cacheStatus = forwardStatus(this.name, { fwd: reason, fwdStatus: status, stored: true, ttlSeconds: Math.floor(freshness.lifetimeMs / 1000) });
        ctx.cacheStatus = cacheStatus;
        res.writeHead(304, this.clientHeaders(ctx, fields, cacheStatus, true));
      } else if (toClient) {
        const cacheStatus = forwardStatus(this.name, {
          fwd: reason,
          fwdStatus: status,
          stored: storing,
          ttlSeconds: storing ? Math.floor(freshness.lifetimeMs / 1000) : undefined,
          detail: detail ?? (refusal !== null && refusal !== 'pass' ? refusal : undefined),
        });
        ctx.cacheStatus = cacheStatus;
        res.writeHead(status, this.clientHeaders(ctx, fields, cacheStatus));
      }

      // ── stream the body to the client, keeping a copy when storing ──
      const body = response.body;
      const chunks: Buffer[] = [];
      let received = 0;
      keep = storing;
      const headOnly = answer304 || ctx.method === 'HEAD' || status === 204 || status === 304;
      await new Promise<void>((resolve, reject) => {
        body.on('data', (chunk: Buffer) => {
          received += chunk.length;
          if (keep) {
            if (received > this.config.cache.maxObjectBytes) {
              keep = false;
              chunks.length = 0;
              this.coalescer.markPass(ctx.lookup.key);
            } else {
              chunks.push(chunk);
            }
          }
          if (toClient && !headOnly && !res.write(chunk)) body.pause();
        });
        if (toClient) res.on('drain', () => body.resume());
        body.once('end', resolve);
        body.once('error', reject);
      });
      if (toClient) {
        res.end();
        if (!headOnly) ctx.bodyBytes = received;
      }
      clientSpan?.end();

      // ── store (commit): only a whole body ──
      if (keep) {
        if (contentLength !== null && received !== contentLength && ctx.method !== 'HEAD') {
          this.stats.incompleteBodies++;
        } else {
          const obj = createCachedResponse(
            { status, fields, body: chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, received), cc: responseCc, freshness, varyNames: vary.names, tags: parseTags(fields['surrogate-key'], fields['cache-tag']), requestTime, responseTime },
            this.storeOptions,
          );
          this.store(ctx, obj);
          this.stats.stores++;
          flight = 'stored';
        }
      }
    } catch (err) {
      // The body broke after the status went out: nothing is stored, the client's connection is cut.
      this.stats.upstreamErrors++;
      if (keep) this.stats.incompleteBodies++;
      if (background) throw err;
      if (!ctx.aborted) this.log.warn({ err, origin: ctx.target!.origin, path: ctx.path, ...traceFields(ctx) }, 'upstream response failed');
      this.telemetry.originFailed(clientSpan, classifyUpstreamError(err).reason, err);
      if (!res.headersSent) {
        const failure = classifyUpstreamError(err);
        return this.synth(ctx, failure.status, `Bad Gateway: the origin's response failed (${failure.reason})\n`, reason, failure.reason);
      }
      res.destroy();
    } finally {
      leaderDone?.(flight);
      if (holdsLease) this.cache.l2?.releaseLease(ctx.primaryKey);
    }
  }

  // ── deliver ────────────────────────────────────────────────────────────────────────────────
  /** Writes a stored object: one writeHead with its precomputed header list, one write of its body. */
  private deliverStored(ctx: RequestContext, obj: CachedResponse, ageMs: number, cacheStatus: string): void {
    const { req, res } = ctx;
    if (obj.status === 200 && isConditional(req.headers)) {
      if (notModified(req.headers, obj.etag, obj.lastModified, obj.date)) {
        return this.deliverNotModified(ctx, obj, ageMs, cacheStatus);
      }
    }
    const range = req.headers.range;
    if (range !== undefined && obj.status === 200 && ifRangeMatches(firstValue(req.headers['if-range']), obj.etag, obj.lastModified)) {
      const r = parseRange(range, obj.body.length);
      if (r !== null) return this.deliverRange(ctx, obj, ageMs, cacheStatus, r);
    }
    const headers = obj.headers;
    const slot = headers.length - this.trailer;
    headers[slot + 1] = String(Math.floor(ageMs / 1000));
    headers[slot + 3] = cacheStatus;
    if (this.serverTimingSlot !== -1) headers[slot + this.serverTimingSlot] = this.telemetry.serverTimingValue(ctx)!;
    ctx.cacheStatus = cacheStatus;
    // Only a sampled request has a trace to name: it alone pays for a copy of the list.
    const traceResponse = this.telemetry.traceResponseValue(ctx);
    res.writeHead(obj.status, traceResponse === null ? headers : headers.concat('traceresponse', traceResponse));
    if (ctx.method === 'HEAD') {
      res.end();
    } else {
      ctx.bodyBytes = obj.body.length;
      res.end(obj.body);
    }
  }

  /** 304 from the cache (RFC 9110 §15.4.5): the validator and caching fields, no body. */
  private deliverNotModified(ctx: RequestContext, obj: CachedResponse, ageMs: number, cacheStatus: string): void {
    const out: string[] = [];
    const end = obj.headers.length - this.trailer;
    for (let i = 0; i < end; i += 2) if (KEPT_IN_304.has(obj.headers[i]!)) out.push(obj.headers[i]!, obj.headers[i + 1]!);
    out.push('age', String(Math.floor(ageMs / 1000)), 'cache-status', cacheStatus);
    if (this.config.cache.xCacheHeader) out.push('x-cache', 'HIT');
    this.telemetry.appendHeaders(ctx, out);
    ctx.cacheStatus = cacheStatus;
    ctx.res.writeHead(304, out);
    ctx.res.end();
  }

  /** 206 or 416 from a stored full response (RFC 9110 §14, §15.3.7). */
  private deliverRange(ctx: RequestContext, obj: CachedResponse, ageMs: number, cacheStatus: string, r: { start: number; end: number } | 'unsatisfiable'): void {
    const total = obj.body.length;
    const out: string[] = [];
    const end = obj.headers.length - this.trailer;
    for (let i = 0; i < end; i += 2) if (obj.headers[i] !== 'content-length') out.push(obj.headers[i]!, obj.headers[i + 1]!);
    out.push('age', String(Math.floor(ageMs / 1000)), 'cache-status', cacheStatus);
    if (this.config.cache.xCacheHeader) out.push('x-cache', 'HIT');
    this.telemetry.appendHeaders(ctx, out);
    ctx.cacheStatus = cacheStatus;
    if (r === 'unsatisfiable') {
      out.push('content-range', `bytes */${total}`, 'content-length', '0');
      ctx.res.writeHead(416, out);
      return void ctx.res.end();
    }
    out.push('content-range', `bytes ${r.start}-${r.end}/${total}`, 'content-length', String(r.end - r.start + 1));
    ctx.res.writeHead(206, out);
    if (ctx.method !== 'HEAD') ctx.bodyBytes = r.end - r.start + 1;
    ctx.res.end(ctx.method === 'HEAD' ? undefined : obj.body.subarray(r.start, r.end + 1));
  }

  private serveStaleOnError(ctx: RequestContext, stale: CachedResponse, fwdStatus: number, why: string): void {
    this.stats.staleServed++;
    ctx.servedBy = ctx.lookup.tier;
    ctx.outcome = 'stale';
    const ageMs = currentAge(stale, Date.now());
    this.deliverStored(ctx, stale, ageMs, forwardStatus(this.name, { fwd: 'stale', fwdStatus: fwdStatus || undefined, ttlSeconds: Math.floor((stale.lifetimeMs - ageMs) / 1000), detail: `stale-if-error-${why}` }));
  }

  /** A response Tiercel makes itself: a short plain body, and the reason in Cache-Status. */
  private synth(ctx: RequestContext, status: number, message: string, fwd: ForwardReason, detail: string): void {
    const { res } = ctx;
    if (res.headersSent || res.destroyed) return;
    const body = message.endsWith('\n') ? message : `${message}\n`;
    ctx.servedBy = 'none';
    ctx.outcome = 'error';
    ctx.cacheStatus = forwardStatus(this.name, { fwd, detail });
    const headers = [
      'content-type', 'text/plain; charset=utf-8',
      'content-length', String(Buffer.byteLength(body)),
      'cache-control', 'no-store',
      'cache-status', ctx.cacheStatus,
    ];
    if (this.config.cache.xCacheHeader) headers.push('x-cache', 'MISS');
    this.telemetry.appendHeaders(ctx, headers);
    res.writeHead(status, headers);
    res.end(ctx.method === 'HEAD' ? undefined : body);
  }

  private fail(ctx: RequestContext, err: unknown): void {
    this.log.error({ err, path: ctx.path, ...traceFields(ctx) }, 'request failed');
    if (!ctx.res.headersSent) this.synth(ctx, 500, 'Internal Server Error', 'bypass', 'internal-error');
    else ctx.res.destroy();
  }

  // ── helpers for the steps ──────────────────────────────────────────────────────────────────
  private staleIfErrorAllows(ctx: RequestContext, stale: CachedResponse): boolean {
    if (stale.forbidStale) return false;
    const staleness = currentAge(stale, Date.now()) - stale.lifetimeMs;
    const requestWindow = ctx.requestCc?.staleIfError;
    const window = Math.max(stale.staleIfErrorMs, requestWindow !== undefined && !Number.isNaN(requestWindow) ? requestWindow * 1000 : 0);
    return staleness <= window;
  }

  /** Stored headers updated by a 304 (RFC 9111 §4.3.4), with freshness computed anew. */
  private freshen(stale: CachedResponse, fresh: ResponseFields, requestTime: number, responseTime: number): CachedResponse {
    const fields = storedFields(stale.headers, this.trailer);
    const extra = connectionTokens(fresh.connection);
    for (const name in fresh) {
      // A 304 never brings its hop-by-hop fields or a Set-Cookie (one client's session) into the shared object.
      if (NOT_UPDATED_BY_304.has(name) || isHopByHop(name, extra) || name === 'set-cookie') continue;
      fields[name] = fresh[name];
    }
    const cc = this.responseCacheControl(fields);
    const freshness = freshnessLifetime(
      { status: stale.status, cc, date: firstValue(fields.date), expires: firstValue(fields.expires), lastModified: firstValue(fields['last-modified']), responseTime },
      this.config.cache,
    );
    return createCachedResponse(
      { status: stale.status, fields, body: stale.body, cc, freshness, varyNames: stale.varyNames, tags: stale.tags, requestTime, responseTime },
      this.storeOptions,
    );
  }

  /** Whether a response may be stored (RFC 9111 §3), with what freshness and under which Vary. */
  private storeDecision(ctx: RequestContext, mode: FetchMode, status: number, fields: ResponseFields, responseTime: number): StoreDecision {
    const responseCc = this.responseCacheControl(fields);
    const vary = parseVary(fields.vary);
    const freshness = freshnessLifetime(
      { status, cc: responseCc, date: firstValue(fields.date), expires: firstValue(fields.expires), lastModified: firstValue(fields['last-modified']), responseTime },
      this.config.cache,
    );
    const refusal = storeRefusal({
      method: mode === 'refresh' ? 'GET' : ctx.method,
      status,
      requestCc: ctx.requestCc ?? EMPTY_CACHE_CONTROL,
      responseCc,
      requestHasAuthorization: ctx.req.headers.authorization !== undefined,
      responseHasSetCookie: fields['set-cookie'] !== undefined,
      stripSetCookie: this.config.cache.stripSetCookie,
      varyStar: vary.star,
      hasValidator: fields.etag !== undefined || fields['last-modified'] !== undefined,
      freshness,
    });
    return { refusal, responseCc, vary, freshness };
  }

  /**
   * The response directives Tiercel stores and computes freshness by: in reverse mode the
   * Surrogate-Control directives meant for it, when there are any, else Cache-Control.
   */
  private responseCacheControl(fields: ResponseFields): CacheControl {
    if (this.surrogate !== null && fields['surrogate-control'] !== undefined) {
      const sc = surrogateControlFor(fields['surrogate-control'], this.name);
      if (sc !== null) return sc;
    }
    return parseCacheControl(fields['cache-control']);
  }

  /** RFC 9111 §4.4: the target URI and same-origin Location / Content-Location, on every instance. */
  private invalidateAfterUnsafe(ctx: RequestContext, fields: ResponseFields): void {
    const keys = [ctx.primaryKey];
    const host = ctx.primaryKey.slice(0, ctx.primaryKey.length - ctx.path.length);
    for (const name of ['location', 'content-location'] as const) {
      const value = firstValue(fields[name]);
      if (value === undefined) continue;
      const resolved = safeUrl(value, `http://${host}${ctx.path}`);
      // Only same-origin URIs, so one origin cannot purge another's objects.
      if (resolved !== null && hostKey(resolved.host) === host) keys.push(host + resolved.pathname + resolved.search);
    }
    this.invalidation.invalidate({ target: { kind: 'urls', keys }, soft: false }, 'unsafe-method', ctx.otelContext ?? undefined).catch((err) => this.log.warn({ err, ...traceFields(ctx) }, 'invalidation after unsafe method failed'));
  }

  /** PURGE <url> on the data port, from PURGE_ALLOW clients: the URL leaves every tier on every instance. */
  private purge(ctx: RequestContext): void {
    if (!this.config.invalidation.purgeAllow.contains(ctx.req.socket.remoteAddress)) {
      return this.synth(ctx, 403, 'Forbidden: this client may not PURGE (see PURGE_ALLOW)', 'bypass', 'purge-denied');
    }
    ctx.req.resume();
    this.invalidation.invalidate({ target: { kind: 'urls', keys: [ctx.primaryKey] }, soft: false }, 'purge', ctx.otelContext ?? undefined).then(
      (outcome) => {
        const body = `${JSON.stringify({ purged: ctx.primaryKey, ...outcome })}\n`;
        ctx.outcome = 'bypass';
        ctx.cacheStatus = forwardStatus(this.name, { fwd: 'bypass', detail: 'purge' });
        ctx.res.writeHead(200, ['content-type', 'application/json', 'content-length', String(Buffer.byteLength(body)), 'cache-control', 'no-store', 'cache-status', forwardStatus(this.name, { fwd: 'bypass', detail: 'purge' })]);
        ctx.res.end(body);
      },
      (err) => this.fail(ctx, err),
    );
  }

  /** L1 now; L2 in the background, its failure logged and counted, never the client's problem. */
  private store(ctx: RequestContext, obj: CachedResponse): void {
    const l2Write = this.cache.store(ctx.primaryKey, ctx.req.headers, obj);
    l2Write?.catch((err) => this.log.warn({ err, key: ctx.primaryKey }, 'L2 write failed'));
  }

  /** The request as the origin sees it: end-to-end fields, X-Forwarded-*, Via, and our validators. */
  private upstreamHeaders(ctx: RequestContext, mode: FetchMode, stale: CachedResponse | undefined): string[] {
    const { req } = ctx;
    const raw = req.rawHeaders;
    const extra = connectionTokens(req.headers.connection);
    const conditional = mode === 'revalidate' || mode === 'refresh';
    const cacheable = mode !== 'pass';
    const out: string[] = [];
    let via: string | undefined;
    let capability: string | undefined;
    for (let i = 0; i < raw.length; i += 2) {
      const name = raw[i]!.toLowerCase();
      if (isHopByHop(name, extra) || REQUEST_FIELDS_REPLACED.has(name)) continue;
      // On a cacheable fetch Tiercel asks for the whole object and evaluates the client's conditions itself.
      if (cacheable && CONDITIONAL_FIELDS.has(name)) continue;
      if (cacheable && name === 'accept-encoding') continue;
      if (name === 'via') { via = via ? `${via}, ${raw[i + 1]}` : raw[i + 1]; continue; }
      // A traced request sends our CLIENT span's context instead (the client's is its parent).
      if (ctx.span !== null && (name === 'traceparent' || name === 'tracestate')) continue;
      if (name === 'surrogate-capability' && this.surrogate !== null) { capability = capability ? `${capability}, ${raw[i + 1]}` : raw[i + 1]; continue; }
      out.push(raw[i]!, raw[i + 1]!);
    }
    const target = ctx.target!;
    const clientHost = req.headers.host;
    out.push('host', this.upstream.isReverse && this.config.proxy.preserveHost && clientHost ? clientHost : target.host);
    if (cacheable) {
      // The forwarded Accept-Encoding is the normalised one, so the stored variant matches its key.
      const ae = normalizeAcceptEncoding(req.headers['accept-encoding']);
      if (ae) out.push('accept-encoding', ae);
    }
    if (conditional && stale !== undefined) {
      if (stale.etag !== undefined) out.push('if-none-match', stale.etag);
      if (stale.lastModified !== undefined) out.push('if-modified-since', stale.lastModified);
    }
    if (this.config.proxy.addForwarded) {
      const prior = req.headers['x-forwarded-for'];
      const client = req.socket.remoteAddress ?? '';
      out.push('x-forwarded-for', prior ? `${prior}, ${client}` : client);
      out.push('x-forwarded-proto', firstValue(req.headers['x-forwarded-proto']) ?? 'http');
      out.push('x-forwarded-host', firstValue(req.headers['x-forwarded-host']) ?? clientHost ?? target.host);
    }
    if (this.via) out.push('via', via ? `${via}, ${this.via}` : this.via);
    else if (via) out.push('via', via);
    // Edge Architecture §2.1: each surrogate appends itself, so the origin can target its directives.
    if (this.surrogate !== null) out.push('surrogate-capability', capability ? `${capability}, ${this.surrogate}` : this.surrogate);
    return out;
  }

  /**
   * The origin's response as the client sees it on a miss or pass; with `only304`, just the
   * fields a 304 carries (RFC 9110 §15.4.5).
   */
  private clientHeaders(ctx: RequestContext, fields: ResponseFields, cacheStatus: string, only304 = false): string[] {
    const extra = connectionTokens(fields.connection);
    const out: string[] = [];
    for (const name in fields) {
      const value = fields[name];
      if (value === undefined || isHopByHop(name, extra) || name === 'x-cache') continue;
      if (only304 && !KEPT_IN_304.has(name)) continue;
      if (this.stripTags && (name === 'surrogate-key' || name === 'cache-tag')) continue;
      if (Array.isArray(value)) for (const v of value) out.push(name, v);
      else out.push(name, value);
    }
    if (this.via) out.push('via', this.via);
    out.push('cache-status', cacheStatus);
    if (this.config.cache.xCacheHeader) out.push('x-cache', 'MISS');
    this.telemetry.appendHeaders(ctx, out);
    return out;
  }
}

interface StoreDecision {
  refusal: StoreRefusal | 'pass' | 'too-large' | null;
  responseCc: CacheControl;
  vary: ParsedVary;
  freshness: Freshness;
}

/** A pass never stores: none of the store rules need to run. */
const PASS_DECISION: StoreDecision = Object.freeze({
  refusal: 'pass',
  responseCc: EMPTY_CACHE_CONTROL,
  vary: { star: false, names: [] },
  freshness: { lifetimeMs: 0, source: 'none' },
}) as StoreDecision;

/** How often a request waiting on another instance's fetch looks for the fill in L2. */
const L2_FILL_POLL_MS = 25;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function hasBody(req: IncomingMessage): boolean {
  const cl = req.headers['content-length'];
  return (cl !== undefined && cl !== '0') || req.headers['transfer-encoding'] !== undefined;
}

function hostKey(host: string): string {
  return host.toLowerCase();
}

function safeUrl(value: string, base?: string): URL | null {
  try {
    return new URL(value, base);
  } catch {
    return null;
  }
}

function parseContentLength(v: string | string[] | undefined): number | null {
  const s = firstValue(v);
  return s !== undefined && /^\d+$/.test(s) ? Number(s) : null;
}
