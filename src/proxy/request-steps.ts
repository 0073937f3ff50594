import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import { Inject, Injectable } from '@nestjs/common';
import { LRUCache } from 'lru-cache';
import type { Logger } from 'pino';
import { LOGGER } from '../common/logger';
import type { TiercelConfig } from '../config/config';
import { TIERCEL_CONFIG } from '../config/config.module';
import { CachedResponse, storedPart } from '../cache/cached-response';
import { emptyLookup, partialKey, TieredCache } from '../cache/tiered-cache';
import { parseCacheControl } from '../http-cache/cache-control';
import { isConditional, notModified } from '../http-cache/conditional';
import { connectionTokens, firstValue, isHopByHop } from '../http-cache/headers';
import { currentAge, reuse } from '../http-cache/reuse';
import { staleIfErrorAllows } from '../http-cache/stale-if-error';
import { InvalidationService } from '../invalidation/invalidation.service';
import { RequestTelemetry, traceFields } from '../telemetry/request-telemetry';
import { Delivery } from './delivery';
import { FillFactory } from './fill';
import type { FillHead } from './fill-handle';
import { forwardInterim } from './interim';
import { rangeFromPart } from '../http-cache/partial';
import { Acquired, FillLock, NOT_STORED, OriginFailure } from './fill-lock';
import type { HitForPass } from './hit-for-pass';
import { clientHeaders, HeaderPolicy, headerPolicy, upstreamHeaders } from './origin-headers';
import { cacheStatusOf, hitRecord, originRecord, storedRecord, synthRecord } from './request-record';
import { HitStatusCache, type ForwardReason } from '../http-cache/cache-status';
import type { Transaction } from './transaction';
import { interceptedTarget } from './interception';
import { tlsFailureCode, UpstreamClient } from './upstream.client';
import { cookieKeyField, cookieValue, keyTarget } from '../policy/cache-key';
import { hostOf, matchRule, Policy, servesHost } from '../policy/policy';
import { POLICY, PolicyService } from '../policy/policy.service';

/**
 * The request lifecycle's steps, after Varnish's cache_req_fsm.c. Each step is a small function
 * of the transaction that returns the name of the next one: synchronously on the L1-hit path
 * (recv → lookup → reuse → deliver allocates no Promise), as a Promise where it waits (for L2,
 * the fill lock, the origin). The driver (request-lifecycle.ts) runs them and turns any throw
 * into the synth step.
 *
 *   recv ──► lookup ──► [lookup-shared] ──► reuse ──► deliver                   fresh, or stale the rules allow
 *    │                                       ├──► refresh ──► deliver           stale-while-revalidate: a fill nobody delivers
 *    │                                       ├──► coalesce ──► fetch | wait     stale, must validate: the fill lock
 *    │                                       └──► miss ──► coalesce | fetch     nothing usable
 *    │                                             └──► partial ──► deliver | fetch   a Range GET: a stored part (RFC 9111 §3.3)
 *    ├──► pass ──► fetch                                                         other methods
 *    └──► purge
 *   coalesce: leader ──► fetch;  follower ──► wait ──► deliver (collapsed) | stale-if-error | fetch
 *   fetch ──► stream (the origin's response) | deliver (304: revalidated) | stale-if-error | synth
 */
export type StepName =
  | 'recv' | 'lookup' | 'lookup-shared' | 'reuse' | 'refresh' | 'miss' | 'partial' | 'pass' | 'purge'
  | 'coalesce' | 'wait' | 'fetch' | 'stream' | 'stale-if-error' | 'deliver' | 'synth' | 'done';
export type Next = StepName | Promise<StepName>;
export type Step = (tx: Transaction) => Next;

@Injectable()
export class RequestSteps {
  readonly table: Readonly<Record<StepName, Step>>;
  private readonly name: string;
  private readonly hitStatus: HitStatusCache;
  private readonly headers: HeaderPolicy;
  /**
   * Keys whose last background refresh failed (origin down or 5xx): while they are remembered,
   * a stale object served within its stale-if-error window says so (`fwd=stale`,
   * `detail=stale-if-error-…`) instead of passing for a plain stale hit.
   */
  private readonly refreshFailures: LRUCache<string, OriginFailure>;
  /** The steps' collaborators, by name: `this.d.lock`, `this.d.cache`, ... */
  private readonly d: {
    config: TiercelConfig;
    cache: TieredCache;
    upstream: UpstreamClient;
    lock: FillLock;
    hitForPass: HitForPass;
    fills: FillFactory;
    delivery: Delivery;
    invalidation: InvalidationService;
    telemetry: RequestTelemetry;
    log: Logger;
    policy: PolicyService;
  };

  constructor(
    @Inject(TIERCEL_CONFIG) config: TiercelConfig,
    cache: TieredCache,
    upstream: UpstreamClient,
    lock: FillLock,
    fills: FillFactory,
    delivery: Delivery,
    invalidation: InvalidationService,
    telemetry: RequestTelemetry,
    @Inject(LOGGER) log: Logger,
    @Inject(POLICY) policy: PolicyService,
  ) {
    this.d = { config, cache, upstream, lock, hitForPass: lock.hitForPass, fills, delivery, invalidation, telemetry, log, policy };
    this.name = config.cache.name;
    this.hitStatus = new HitStatusCache(config.cache.name);
    this.headers = headerPolicy(config, upstream.isReverse);
    this.refreshFailures = new LRUCache<string, OriginFailure>({ max: 10_000, ttl: Math.max(1000, config.cache.hitForPassMs), ttlAutopurge: false });
    this.table = {
      recv: (tx) => this.recv(tx),
      lookup: (tx) => this.lookup(tx),
      'lookup-shared': (tx) => this.lookupShared(tx),
      reuse: (tx) => this.reuse(tx),
      refresh: (tx) => this.refresh(tx),
      miss: (tx) => this.miss(tx),
      partial: (tx) => this.partial(tx),
      pass: (tx) => this.pass(tx),
      purge: (tx) => this.purge(tx),
      coalesce: (tx) => this.coalesce(tx),
      wait: (tx) => this.wait(tx),
      fetch: (tx) => this.fetch(tx),
      stream: (tx) => this.stream(tx),
      'stale-if-error': (tx) => this.staleIfError(tx),
      deliver: (tx) => this.deliver(tx),
      synth: (tx) => this.synth(tx),
      done: () => 'done',
    };
  }

  // ── recv: where the request goes, and under which key ──────────────────────────────────────
  private recv(tx: Transaction): StepName {
    const { req } = tx;
    const url = req.url ?? '/';
    // RFC 9112 §2.3: HTTP/1.x, and HTTP/2 on the TLS port (RFC 9113); an HTTP/0.9 request line is refused.
    if (req.httpVersionMajor !== 1 && req.httpVersionMajor !== 2) return this.answer(tx, 400, 'Bad Request: HTTP/1.0, HTTP/1.1 or HTTP/2 only', 'bypass', 'bad-version');
    const reverse = this.d.upstream.reverseTarget;
    const policy = this.d.policy.current;
    let keyPrefix: string;
    // remoteAddress is read only when there is a list to check it against.
    const trustedProxies = this.d.config.proxy.trustedProxies;
    tx.trusted = !trustedProxies.empty && trustedProxies.contains(req.socket.remoteAddress);
    const tunnel = reverse === null ? interceptedTarget(req) : null;
    if (tunnel !== null) {
      // Decrypted from a CONNECT tunnel: the request is for https://<the CONNECT target>, and a
      // Host naming anything else is misdirected (RFC 9110 §15.5.20), so the ALLOWED_CLIENTS and
      // CONNECT_PORTS checks made on the tunnel hold for every request inside it.
      const host = tunnel.host.includes(':') ? `[${tunnel.host}]` : tunnel.host;
      const parsed = url.charCodeAt(0) === 47 /* / */ ? safeUrl(`https://${host}:${tunnel.port}${url}`) : url.startsWith('https://') ? safeUrl(url) : null;
      if (parsed === null) return this.answer(tx, 400, 'Bad Request: unparseable request target', 'bypass', 'bad-request');
      const asked = requestAuthority(req, parsed.host);
      if (asked === null) return this.answer(tx, 400, 'Bad Request: one Host header, a valid authority (RFC 9110 §7.2)', 'bypass', 'bad-host');
      const connected = `${host}:${tunnel.port}`;
      if (parsed.host !== (tunnel.port === 443 ? host : connected) || (asked !== parsed.host && asked !== connected)) {
        return this.answer(tx, 421, `Misdirected Request: this connection is for ${connected}`, 'bypass', 'misdirected');
      }
      tx.target = this.d.upstream.forwardTarget(parsed);
      tx.path = parsed.pathname + parsed.search;
      tx.authority = parsed.host;
      keyPrefix = 'https://' + parsed.host;
    } else if (reverse !== null) {
      tx.target = reverse;
      if (url.charCodeAt(0) === 47 /* / */) {
        tx.path = url;
      } else if (url === '*' && tx.method === 'OPTIONS') {
        tx.path = '*';
      } else {
        // RFC 9112 §3.2.2: a server accepts absolute-form too; only its path goes upstream.
        const parsed = safeUrl(url);
        if (parsed === null) return this.answer(tx, 400, 'Bad Request: unparseable request target', 'bypass', 'bad-request');
        tx.path = parsed.pathname + parsed.search;
      }
      const authority = requestAuthority(req, reverse.host);
      if (authority === null) return this.answer(tx, 400, 'Bad Request: one Host header, a valid authority (RFC 9110 §7.2)', 'bypass', 'bad-host');
      // A served-hosts list: any other Host is refused before anything is fetched or stored.
      if (policy.hosts !== null && !servesHost(policy, hostOf(authority))) return this.answer(tx, 421, 'Misdirected Request: this host is not served here', 'bypass', 'host-not-served');
      tx.authority = authority;
      keyPrefix = authority;
    } else {
      if (!this.d.config.proxy.allowedClients.contains(req.socket.remoteAddress)) {
        return this.answer(tx, 403, 'Forbidden: this client may not use the proxy (see ALLOWED_CLIENTS)', 'bypass', 'client-denied');
      }
      const parsed = url.startsWith('http://') || url.startsWith('https://') ? safeUrl(url) : null;
      if (parsed === null || parsed.host === '' || parsed.username !== '' || parsed.password !== '') {
        return this.answer(tx, 400, 'Bad Request: Tiercel runs as a forward proxy here; send an absolute-form request (curl -x), or set UPSTREAM_URL for reverse mode', 'bypass', 'not-absolute-form');
      }
      tx.target = this.d.upstream.forwardTarget(parsed);
      tx.path = parsed.pathname + parsed.search;
      // The WHATWG URL parser has lower-cased the host and dropped the scheme's default port.
      tx.authority = parsed.host;
      keyPrefix = (parsed.protocol === 'https:' ? 'https://' : '') + parsed.host;
    }
    tx.keyHeaders = headersTheOriginSees(req);
    const rule = policy.rules.length === 0 ? null : this.matchRule(tx, policy);
    tx.primaryKey = keyPrefix + keyTarget(tx.path, rule?.query ?? null);
    if (rule !== null && rule.pass && (tx.method === 'GET' || tx.method === 'HEAD')) {
      tx.purpose = 'pass';
      tx.reason = 'bypass';
      tx.detail = 'rule';
      return 'fetch';
    }
    if (tx.method === 'GET' || tx.method === 'HEAD') {
      // A body on GET or HEAD has no defined meaning (RFC 9110 §9.3.1): such a request is passed
      // with its body and never looked up or stored, so it cannot answer for body-less ones.
      if (hasBody(req)) {
        tx.purpose = 'pass';
        tx.reason = 'bypass';
        tx.detail = 'request-body';
        return 'fetch';
      }
      return 'lookup';
    }
    if (tx.method === 'PURGE') return 'purge';
    return 'pass';
  }

  /** The first rule that matches; the cookies its key names join the fields that select a variant. */
  private matchRule(tx: Transaction, policy: Policy) {
    const q = tx.path.indexOf('?');
    const rule = matchRule(policy, hostOf(tx.authority), q === -1 ? tx.path : tx.path.slice(0, q), tx.method, tx.req.headers);
    tx.rule = rule;
    if (rule !== null && rule.keyCookies.length > 0) {
      const fields: IncomingHttpHeaders = { ...tx.keyHeaders };
      for (const name of rule.keyCookies) fields[cookieKeyField(name)] = cookieValue(firstValue(tx.req.headers.cookie), name);
      tx.keyHeaders = fields;
    }
    return rule;
  }

  // ── lookup: the first tier synchronously, the others after it misses ───────────────────────
  private lookup(tx: Transaction): StepName {
    const headers = tx.req.headers;
    const cc = headers['cache-control'];
    if (cc !== undefined) tx.requestCc = parseCacheControl(cc);
    // RFC 9111 §5.4: Pragma: no-cache counts as no-cache when Cache-Control is absent.
    else if (headers.pragma !== undefined && /(^|,)\s*no-cache\s*(,|$)/i.test(headers.pragma)) tx.requestCc = parseCacheControl('no-cache');
    const t = performance.now();
    this.d.cache.lookupFirst(tx.primaryKey, tx.keyHeaders, tx.lookup);
    this.d.telemetry.lookedUp(tx, 'l1', tx.lookup.found !== undefined, t, performance.now() - t);
    return tx.lookup.found !== undefined || !this.d.cache.layered ? 'reuse' : 'lookup-shared';
  }

  private async lookupShared(tx: Transaction): Promise<StepName> {
    const t = performance.now();
    await this.d.cache.lookupRest(tx.primaryKey, tx.keyHeaders, tx.lookup);
    this.d.telemetry.lookedUp(tx, 'l2', tx.lookup.found !== undefined, t, performance.now() - t);
    return 'reuse';
  }

  // ── reuse: what the stored object's state allows (RFC 9111 §4) ─────────────────────────────
  private reuse(tx: Transaction): StepName {
    if (tx.aborted) return 'done';
    const found = tx.lookup.found;
    const onlyIfCached = tx.requestCc?.onlyIfCached === true;
    if (found === undefined) {
      // §5.2.1.7: only-if-cached with nothing usable stored answers 504.
      if (onlyIfCached) return this.answer(tx, 504, 'Gateway Timeout: only-if-cached and nothing is stored', tx.lookup.miss, 'only-if-cached');
      return 'miss';
    }
    const now = Date.now();
    switch (reuse(found, now, tx.requestCc)) {
      case 'fresh':
        return this.hit(tx, found, now, 'hit');
      case 'stale-ok':
        return this.hit(tx, found, now, 'stale');
      case 'stale-refresh':
        tx.stale = found;
        return 'refresh';
      case 'revalidate':
        if (onlyIfCached) return this.answer(tx, 504, 'Gateway Timeout: only-if-cached and the stored response needs validation', 'miss', 'only-if-cached');
        tx.stale = found;
        tx.staleTier = tx.lookup.tier;
        tx.purpose = 'revalidate';
        tx.reason = tx.requestCc?.noCache ? 'request' : 'stale';
        // Only whole GETs share a revalidation: a HEAD or a Range answer is not the object.
        return tx.method === 'GET' && tx.req.headers.range === undefined ? 'coalesce' : 'fetch';
    }
  }

  private hit(tx: Transaction, obj: CachedResponse, now: number, phase: 'hit' | 'stale'): StepName {
    const ageMs = currentAge(obj, now);
    tx.object = obj;
    tx.ageMs = ageMs;
    tx.record = hitRecord(phase, tx.lookup.tier, Math.floor((obj.lifetimeMs - ageMs) / 1000));
    return 'deliver';
  }

  // ── refresh: stale-while-revalidate (RFC 5861 §3): serve now, a fill nobody delivers refreshes ──
  private refresh(tx: Transaction): StepName {
    const stale = tx.stale!;
    const key = tx.lookup.key;
    if (!this.d.lock.busy(key)) {
      const acquired = this.d.lock.acquire(key, tx.primaryKey, undefined);
      if (acquired instanceof Promise) acquired.then((a) => this.startRefresh(tx, stale, a), (err: unknown) => this.d.log.warn({ err }, 'background refresh failed'));
      else this.startRefresh(tx, stale, acquired);
    }
    const now = Date.now();
    // The origin failed the last refresh: the stale object stands in for an origin error (RFC 5861 §4).
    const failure = this.refreshFailures.size === 0 ? undefined : this.refreshFailures.get(key);
    if (failure !== undefined && staleIfErrorAllows(stale, now, tx.requestCc, failure.status)) {
      tx.staleTier = tx.lookup.tier;
      tx.failure = failure;
      return 'stale-if-error';
    }
    return this.hit(tx, stale, now, 'stale');
  }

  private startRefresh(cause: Transaction, stale: CachedResponse, acquired: Acquired): void {
    if (acquired.role !== 'leader') return;
    const traced = this.d.telemetry.backgroundSpan(cause, 'cache.refresh');
    const target = cause.target!;
    const fill = this.d.fills.start({
      purpose: 'refresh',
      key: cause.lookup.key,
      primaryKey: cause.primaryKey,
      path: cause.path,
      method: 'GET',
      target,
      headers: ruleHeaders(cause, upstreamHeaders({ req: cause.req, targetHost: target.host, cacheable: true, validate: stale, traced: traced !== null, trusted: cause.trusted, authority: cause.authority }, this.headers)),
      body: null,
      stale,
      requestCc: cause.requestCc,
      requestHeaders: cause.keyHeaders,
      otelContext: traced?.context ?? null,
      permit: acquired.permit,
      hitForPass: false,
      interim: null,
      part: null,
      rule: cause.rule,
    });
    const key = cause.lookup.key;
    fill.head
      .then((head) => {
        if (head.kind === 'failed') {
          this.refreshFailures.set(key, head.failure);
          this.d.log.warn({ reason: head.failure.reason, key: cause.primaryKey }, 'background refresh failed');
        } else if (head.kind === 'response' && head.failure !== null) {
          this.refreshFailures.set(key, head.failure);
          return fill.pipe(null, true);
        } else {
          this.refreshFailures.delete(key);
          if (head.kind === 'response') return fill.pipe(null, true);
        }
        return true;
      })
      .catch((err: unknown) => this.d.log.warn({ err, key: cause.primaryKey }, 'background refresh failed'))
      .finally(() => traced?.span.end());
  }

  // ── miss: nothing usable stored ────────────────────────────────────────────────────────────
  private miss(tx: Transaction): StepName {
    tx.reason = tx.lookup.miss;
    if (tx.method === 'GET' && tx.req.headers.range !== undefined && tx.req.headers['if-range'] === undefined) return 'partial';
    // HEAD and Range misses go to the origin as they are; their answers are not full objects.
    if (tx.method === 'HEAD' || tx.req.headers.range !== undefined) {
      tx.purpose = 'pass';
      tx.detail = tx.method === 'HEAD' ? 'head' : 'range';
      return 'fetch';
    }
    tx.purpose = 'miss';
    if (this.d.hitForPass.has(tx.lookup.key)) {
      tx.hitForPass = true;
      tx.detail = 'hit-for-pass';
      return 'fetch';
    }
    return 'coalesce';
  }

  // ── partial: a Range miss, answered from a stored part or stored as one (RFC 9111 §3.3) ─────
  private async partial(tx: Transaction): Promise<StepName> {
    const found = emptyLookup();
    const key = partialKey(tx.primaryKey);
    this.d.cache.lookupFirst(key, tx.keyHeaders, found, false);
    if (found.found === undefined && this.d.cache.layered) await this.d.cache.lookupRest(key, tx.keyHeaders, found, false);
    if (tx.aborted) return 'done';
    const obj = found.found;
    const part = obj === undefined ? null : storedPart(obj);
    const now = Date.now();
    // §3.3: only a range wholly within the stored part, and only while it is fresh.
    if (obj !== undefined && part !== null && reuse(obj, now, tx.requestCc) === 'fresh' && rangeFromPart(tx.req.headers.range!, part) !== null) {
      tx.lookup.tier = found.tier;
      return this.hit(tx, obj, now, 'hit');
    }
    tx.purpose = 'miss';
    tx.detail = 'range';
    tx.part = { stored: part === null ? undefined : obj };
    return 'fetch';
  }

  // ── pass: other methods go to the origin, never stored ─────────────────────────────────────
  private pass(tx: Transaction): StepName {
    tx.purpose = 'pass';
    tx.reason = 'method';
    return 'fetch';
  }

  // ── coalesce: one fill per key; the others wait for it ─────────────────────────────────────
  private coalesce(tx: Transaction): Next {
    const acquired = this.d.lock.acquire(tx.lookup.key, tx.primaryKey, tx.span?.spanContext());
    return acquired instanceof Promise ? acquired.then((a) => this.acquired(tx, a)) : this.acquired(tx, acquired);
  }

  private acquired(tx: Transaction, a: Acquired): StepName {
    switch (a.role) {
      case 'leader':
        // The leader fetches even when its client has left: others may wait, the response may be stored.
        tx.permit = a.permit;
        return 'fetch';
      case 'follower':
        tx.waitFor = a.outcome;
        tx.leaderSpan = a.leader;
        return 'wait';
      case 'alone':
        return 'fetch';
    }
  }

  /** A follower wakes when the fill ends: the stored object, stale-if-error, or a fetch of its own. */
  private async wait(tx: Transaction): Promise<StepName> {
    const outcome = await tx.waitFor!;
    this.d.telemetry.linkTo(tx, tx.leaderSpan, 'coalesced-leader');
    if (tx.aborted) return 'done';
    if (outcome === 'timeout') {
      tx.detail = 'collapse-timeout';
      return 'fetch';
    }
    const { cache } = this.d;
    cache.lookupFirst(tx.primaryKey, tx.keyHeaders, tx.lookup, false);
    if (tx.lookup.found === undefined && cache.layered) await cache.lookupRest(tx.primaryKey, tx.keyHeaders, tx.lookup, false);
    if (tx.aborted) return 'done';
    const found = tx.lookup.found;
    const now = Date.now();
    if (found !== undefined && reuse(found, now, tx.requestCc) !== 'revalidate') {
      const ageMs = currentAge(found, now);
      tx.object = found;
      tx.ageMs = ageMs;
      tx.record = storedRecord('collapsed', tx.lookup.tier, tx.reason, found.status, Math.floor((found.lifetimeMs - ageMs) / 1000), tx.lookup.tier === 'l2' ? 'l2' : null);
      return 'deliver';
    }
    if (outcome.failure !== null && tx.stale !== undefined && staleIfErrorAllows(tx.stale, now, tx.requestCc, outcome.failure.status)) {
      tx.failure = outcome.failure;
      return 'stale-if-error';
    }
    return 'fetch';
  }

  // ── fetch: start the fill, wait for the origin's headers ───────────────────────────────────
  private fetch(tx: Transaction): Promise<StepName> {
    const { req } = tx;
    const target = tx.target!;
    const stale = tx.purpose === 'revalidate' ? tx.stale : undefined;
    const fill = this.d.fills.start({
      purpose: tx.purpose,
      key: tx.part === null ? tx.lookup.key : partialKey(tx.primaryKey),
      primaryKey: tx.part === null ? tx.primaryKey : partialKey(tx.primaryKey),
      path: tx.path,
      method: tx.method,
      target,
      // A Range request goes as the client sent it, Range and all.
      headers: ruleHeaders(tx, upstreamHeaders({ req, targetHost: target.host, cacheable: tx.purpose !== 'pass' && tx.part === null, validate: stale, traced: tx.span !== null, trusted: tx.trusted, authority: tx.authority }, this.headers)),
      body: hasBody(req) ? req : null,
      stale,
      requestCc: tx.requestCc,
      requestHeaders: tx.keyHeaders,
      otelContext: tx.otelContext,
      permit: tx.permit,
      hitForPass: tx.hitForPass,
      part: tx.part === null ? null : { stored: tx.part.stored, wholeKey: tx.primaryKey },
      interim: (status, fields) => void forwardInterim(tx.res, req.httpVersionMajor === 1 && req.httpVersionMinor === 0, status, fields),
      rule: tx.rule,
    });
    tx.permit = null;
    tx.fill = fill;
    if (tx.aborted) fill.detach();
    return fill.head.then((head) => this.fetched(tx, head));
  }

  private fetched(tx: Transaction, head: FillHead): StepName {
    tx.head = head;
    tx.originMs = tx.fill!.originMs;
    if (tx.aborted) {
      tx.fill!.detach();
      return 'done';
    }
    const now = Date.now();
    switch (head.kind) {
      case 'failed':
        // RFC 5861 §4, RFC 9111 §4.2.4: a stale object may stand in when the origin is unreachable.
        if (tx.stale !== undefined && staleIfErrorAllows(tx.stale, now, tx.requestCc, 0)) {
          tx.failure = head.failure;
          return 'stale-if-error';
        }
        if (head.gatewayStatus === 408) {
          // The rest of the body will never be read: the connection cannot carry another request.
          tx.res.shouldKeepAlive = false;
          return this.answer(tx, 408, 'Request Timeout: the request body stalled (see REQUEST_BODY_TIMEOUT)', tx.reason, head.failure.reason);
        }
        this.d.log.warn({ reason: head.failure.reason, error: errorText(head.error), origin: tx.target!.origin, path: tx.path, ...traceFields(tx) }, 'upstream request failed');
        return this.answer(tx, head.gatewayStatus, gatewayMessage(head.gatewayStatus, head.failure.reason, head.error), tx.reason, head.failure.reason);
      case 'not-modified': {
        const obj = head.object;
        const ageMs = currentAge(obj, now);
        tx.object = obj;
        tx.ageMs = ageMs;
        tx.record = storedRecord('revalidated', tx.staleTier, tx.reason, 304, Math.floor((obj.lifetimeMs - ageMs) / 1000), head.validatorMismatch ? 'validator-mismatch' : null);
        return 'deliver';
      }
      case 'response':
        if (head.failure !== null && tx.stale !== undefined && staleIfErrorAllows(tx.stale, now, tx.requestCc, head.status)) {
          void tx.fill!.pipe(null, true);
          tx.failure = head.failure;
          return 'stale-if-error';
        }
        return 'stream';
    }
  }

  // ── stream: the origin's response to the client, a copy kept when it is stored ─────────────
  private stream(tx: Transaction): Promise<StepName> {
    const head = tx.head as FillHead & { kind: 'response' };
    const fill = tx.fill!;
    const { req, res } = tx;
    const { status, fields, storing } = head;
    // The client's own conditions were held back so the whole object could be stored; answer them now.
    const answer304 = storing && status === 200 && isConditional(req.headers)
      && notModified(req.headers, firstValue(fields.etag), firstValue(fields['last-modified']), firstValue(fields.date));
    const refusal = head.refusal !== null && head.refusal !== 'pass' ? head.refusal : null;
    tx.record = originRecord(tx.purpose === 'pass' ? 'pass' : 'miss', tx.reason, status, storing, head.ttlSeconds, tx.detail ?? refusal ?? head.governedBy);
    tx.cacheStatus = cacheStatusOf(this.name, tx.record);
    const out = clientHeaders(fields, tx.cacheStatus, this.headers, answer304);
    this.d.telemetry.appendHeaders(tx, out);
    res.writeHead(answer304 ? 304 : status, out);
    const headOnly = answer304 || tx.method === 'HEAD' || status === 204 || status === 304;
    return fill.pipe(res, headOnly).then((whole) => {
      if (!whole) res.destroy();
      else if (!tx.aborted) {
        res.end();
        if (!headOnly) tx.bodyBytes = fill.bytes;
      }
      return 'done';
    });
  }

  // ── stale-if-error: the stored object stands in for an origin error ────────────────────────
  private staleIfError(tx: Transaction): StepName {
    const stale = tx.stale!;
    const failure = tx.failure!;
    const ageMs = currentAge(stale, Date.now());
    tx.object = stale;
    tx.ageMs = ageMs;
    tx.record = storedRecord('stale-if-error', tx.staleTier, 'stale', failure.status || null, Math.floor((stale.lifetimeMs - ageMs) / 1000), `stale-if-error-${failure.reason}`);
    return 'deliver';
  }

  // ── deliver: a stored object ───────────────────────────────────────────────────────────────
  private deliver(tx: Transaction): StepName {
    if (tx.aborted) return 'done';
    const r = tx.record;
    tx.cacheStatus = r.fwd === null ? this.hitStatus.of(r.served, r.ttl) : cacheStatusOf(this.name, r);
    this.d.delivery.stored(tx, tx.object!, tx.ageMs);
    return 'done';
  }

  // ── synth: an answer Tiercel makes itself ──────────────────────────────────────────────────
  private synth(tx: Transaction): StepName {
    tx.cacheStatus = cacheStatusOf(this.name, tx.record);
    this.d.delivery.synth(tx, tx.synth!);
    return 'done';
  }

  /** Sets up the synth step's answer. */
  answer(tx: Transaction, status: number, message: string, fwd: ForwardReason, detail: string): StepName {
    tx.synth = { status, message, fwd, detail };
    tx.record = synthRecord('synth', fwd, detail);
    return 'synth';
  }

  // ── purge: PURGE <url> from PURGE_ALLOW clients, on every tier of every instance ──────────
  private async purge(tx: Transaction): Promise<StepName> {
    if (!this.d.config.invalidation.purgeAllow.contains(tx.req.socket.remoteAddress)) {
      return this.answer(tx, 403, 'Forbidden: this client may not PURGE (see PURGE_ALLOW)', 'bypass', 'purge-denied');
    }
    tx.req.resume();
    const outcome = await this.d.invalidation.invalidate({ target: { kind: 'urls', keys: [tx.primaryKey] }, soft: false }, 'purge', tx.otelContext ?? undefined);
    const body = `${JSON.stringify({ purged: tx.primaryKey, ...outcome })}\n`;
    tx.record = synthRecord('purge', 'bypass', 'purge');
    tx.cacheStatus = cacheStatusOf(this.name, tx.record);
    tx.res.writeHead(200, ['content-type', 'application/json', 'content-length', String(Buffer.byteLength(body)), 'cache-control', 'no-store', 'cache-status', tx.cacheStatus]);
    tx.res.end(body);
    return 'done';
  }

  /**
   * Any throw or rejection of a step: the waiters are released, and the client gets a 500 (or,
   * once its headers are out, a cut connection), never a hang.
   */
  internalError(tx: Transaction, err: unknown): StepName {
    this.d.log.error({ err, path: tx.path, ...traceFields(tx) }, 'request failed');
    tx.permit?.settle(NOT_STORED);
    tx.permit = null;
    tx.fill?.detach();
    if (tx.failedInternally || tx.res.headersSent) {
      tx.res.destroy();
      return 'done';
    }
    tx.failedInternally = true;
    return this.answer(tx, 500, 'Internal Server Error', 'bypass', 'internal-error');
  }
}

function hasBody(req: IncomingMessage): boolean {
  const cl = req.headers['content-length'];
  return (cl !== undefined && cl !== '0') || req.headers['transfer-encoding'] !== undefined;
}

/**
 * The request's authority, normalised for the cache key: one Host field (RFC 9112 §3.2), of the
 * authority grammar without userinfo (RFC 9110 §7.2, RFC 3986 §3.2), lower-cased, the default
 * port dropped. null when the Host is missing, repeated or malformed: `Host: a/b` must never
 * collide with another host's path.
 */
export function requestAuthority(req: IncomingMessage, fallback: string): string | null {
  let host: string | undefined;
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i]!.length === 4 && raw[i]!.toLowerCase() === 'host') {
      if (host !== undefined) return null;
      host = raw[i + 1]!;
    }
  }
  if (req.httpVersionMajor === 2) {
    // RFC 9113 §8.3.1: :authority stands for Host; a Host beside it must say the same.
    const authority = req.headers[':authority'];
    if (typeof authority === 'string') {
      if (host !== undefined && host !== authority) return null;
      host = authority;
    }
  }
  if (host === undefined) return req.httpVersionMinor === 0 ? fallback.toLowerCase() : null;
  // Clients send the same Host again and again: the last one's answer is kept.
  if (host === lastHost) return lastAuthority;
  const authority = parseAuthority(host);
  lastHost = host;
  lastAuthority = authority;
  return authority;
}

let lastHost: string | undefined;
let lastAuthority: string | null = null;

function parseAuthority(host: string): string | null {
  const m = AUTHORITY.exec(host);
  if (m === null) return null;
  const port = m[2];
  if (port !== undefined && (port.length > 5 || Number(port) > 65535)) return null;
  const name = m[1]!.toLowerCase();
  return port === undefined || port === '80' || port === '' ? name : `${name}:${port}`;
}

/** host [ ":" port ]: a bracketed IP literal or a reg-name (unreserved, pct-encoded, sub-delims). */
const AUTHORITY = /^(\[[0-9A-Fa-f:.]+\]|(?:[A-Za-z0-9\-._~!$&'()*+,;=]|%[0-9A-Fa-f]{2})+)(?::(\d*))?$/;

/**
 * The request fields as the origin receives them, for the variant key (Vary) and the store
 * rules: the fields its Connection header names are not forwarded (hop-by-hop), so they must
 * not select a variant either.
 */
function headersTheOriginSees(req: IncomingMessage): IncomingHttpHeaders {
  const extra = connectionTokens(req.headers.connection);
  if (extra === null) return req.headers;
  const out: IncomingHttpHeaders = {};
  for (const name in req.headers) if (!isHopByHop(name, extra)) out[name] = req.headers[name];
  return out;
}

function safeUrl(value: string): URL | null {
  try {
    return new URL(value);
  } catch {
    return null;
  }
}

/** The body of a 502/504: what went wrong with the origin, the TLS verification result included. */
function gatewayMessage(status: number, reason: string, err: unknown): string {
  if (status === 504) return 'Gateway Timeout: the origin did not answer in time';
  if (reason === 'tls-cert-invalid' || reason === 'tls-error') {
    const code = tlsFailureCode(err);
    const what = reason === 'tls-cert-invalid' ? "the origin's TLS certificate was not accepted" : 'the TLS connection to the origin failed';
    return `Bad Gateway: ${what} (${code}: ${errorText(innermost(err))}); see UPSTREAM_CA`;
  }
  return `Bad Gateway: the origin could not be reached (${reason})`;
}

function innermost(err: unknown): unknown {
  let e = err as { cause?: unknown } | undefined;
  for (let i = 0; i < 4 && e?.cause instanceof Error; i++) e = e.cause as typeof e;
  return e;
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** The origin's request fields as the rule leaves them: strip_cookies removes Cookie. */
function ruleHeaders(tx: Transaction, headers: string[]): string[] {
  if (tx.rule === null || !tx.rule.stripCookies) return headers;
  const out: string[] = [];
  for (let i = 0; i < headers.length; i += 2) if (headers[i]!.toLowerCase() !== 'cookie') out.push(headers[i]!, headers[i + 1]!);
  return out;
}
