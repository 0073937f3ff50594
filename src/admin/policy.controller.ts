import { BadRequestException, Controller, Get, Headers, HttpCode, HttpException, Inject, Post, Query } from '@nestjs/common';
import type { IncomingHttpHeaders } from 'node:http';
import type { CacheEntry } from '../cache/cache-entry';
import { CachedResponse, hasValidator } from '../cache/cached-response';
import { MemoryTier } from '../cache/memory.tier';
import { TieredCache } from '../cache/tiered-cache';
import type { TiercelConfig } from '../config/config';
import { TIERCEL_CONFIG } from '../config/config.module';
import type { ResponseFields } from '../http-cache/headers';
import { currentAge, reuse } from '../http-cache/reuse';
import { freshnessFrom } from '../http-cache/store-decision';
import { varySelector } from '../http-cache/vary';
import { cookieKeyField, cookieValue, keyTarget } from '../policy/cache-key';
import { hostOf, matchRule, servesHost } from '../policy/policy';
import { POLICY, PolicyService } from '../policy/policy.service';
import { FillLock } from '../proxy/fill-lock';
import { BearerCheck } from './bearer';

const VARIANT_SEPARATOR = '\u0001';

/** The operator policy on the admin port: reload the file, and explain what a URL would get. */
@Controller('admin')
export class PolicyController {
  private readonly bearer: BearerCheck;

  constructor(
    @Inject(TIERCEL_CONFIG) private readonly config: TiercelConfig,
    @Inject(POLICY) private readonly policy: PolicyService,
    private readonly cache: TieredCache,
    private readonly l1: MemoryTier,
    private readonly lock: FillLock,
  ) {
    this.bearer = new BearerCheck(config.admin.token);
  }

  /** Re-reads TIERCEL_CONFIG; a file that fails validation is refused (422) and the policy in force stays. */
  @Post('reload')
  @HttpCode(200)
  reload(@Headers('authorization') authorization: string | undefined) {
    this.bearer.authorize(authorization);
    const r = this.policy.reload();
    if (!r.ok) throw new HttpException({ statusCode: 422, error: 'policy refused', message: r.error, policy: this.policy.describe() }, 422);
    return { reloaded: true, policy: this.policy.describe() };
  }

  /**
   * What a GET of `url` would get now, and why: the rule, the cache key, what each tier holds,
   * the verdict. Request fields are given as `header=name: value` (repeatable).
   */
  @Get('explain')
  async explain(@Query('url') url: unknown, @Query('header') header: unknown) {
    if (typeof url !== 'string' || url === '') throw new BadRequestException('url=<absolute URL, or a path in reverse mode> is required');
    const headers: IncomingHttpHeaders = {};
    for (const h of header === undefined ? [] : Array.isArray(header) ? header : [header]) {
      const m = typeof h === 'string' ? /^([!#$%&'*+.^_`|~0-9A-Za-z-]+):\s*(.*)$/.exec(h) : null;
      if (m === null) throw new BadRequestException('header=<name>: <value>');
      headers[m[1]!.toLowerCase()] = m[2]!;
    }
    let parsed: URL;
    try {
      parsed = new URL(url, 'http://localhost');
    } catch {
      throw new BadRequestException('url is not a URL');
    }
    const reverse = this.config.proxy.upstream !== null;
    const authority = /^https?:\/\//.test(url) ? parsed.host : (headers.host ?? this.config.proxy.upstream?.host ?? parsed.host).toLowerCase();
    const target = parsed.pathname + parsed.search;
    const policy = this.policy.current;
    const base = { url, policy: policy.source?.hash ?? null };
    if (reverse && !servesHost(policy, hostOf(authority))) {
      return { ...base, rule: null, key: null, tiers: [], verdict: { serve: 'misdirected', why: `421: ${hostOf(authority)} is not in hosts` } };
    }
    const rule = matchRule(policy, hostOf(authority), parsed.pathname, 'GET', headers);
    const keyHeaders: IncomingHttpHeaders = { ...headers };
    for (const name of rule?.keyCookies ?? []) keyHeaders[cookieKeyField(name)] = cookieValue(headers.cookie as string | undefined, name);
    const prefix = reverse ? authority : (parsed.protocol === 'https:' ? 'https://' : '') + parsed.host;
    const primaryKey = prefix + keyTarget(target, rule?.query ?? null);
    const ruleOut = rule === null ? null : { name: rule.label, index: rule.index, pass: rule.pass, ttl: seconds(rule.ttlMs), override: rule.override, grace: seconds(rule.graceMs) };
    const keyOut = { primary: primaryKey, variantFields: rule?.varyExtra ?? [] };
    if (rule?.pass) return { ...base, rule: ruleOut, key: keyOut, tiers: [], verdict: { serve: 'pass', why: `rule ${rule.label} says pass: never cached, never coalesced` } };

    const now = Date.now();
    // Which instruction each stored object's freshness came from (RFC 9213 §2.1 targeted fields,
    // the rule, or Cache-Control), by the precedence storing used.
    const surrogateName = reverse ? this.config.cache.name : null;
    const from = (o: CachedResponse) => {
      const f = freshnessFrom(o.status, fieldsOf(o.headers), surrogateName, o.responseTime, this.config.cache, rule);
      return f.field === 'rule' ? { ...f, rule: rule?.label ?? null } : f;
    };
    const describeObject = (o: CachedResponse, at: number) => ({ ...describeStored(o, at), freshnessFrom: from(o) });
    const tiers: unknown[] = [];
    let found: { obj: CachedResponse; tier: string } | null = null;
    let selector = '';
    for (const tier of this.cache.tiers) {
      let entry: CacheEntry | undefined;
      let variants: string[] | undefined;
      if (tier === this.l1) {
        const slot = this.l1.peek(primaryKey);
        entry = slot?.base;
        variants = slot === undefined ? undefined : [...slot.variants.keys()];
      } else {
        entry = await tier.get(primaryKey, '', false);
      }
      let obj: CachedResponse | undefined;
      let vary: string[] | null = null;
      if (entry?.kind === 'vary') {
        vary = [...entry.names];
        selector = varySelector(entry.names, keyHeaders);
        obj = tier === this.l1 ? this.l1.peek(primaryKey)?.variants.get(selector) : ((await tier.get(primaryKey, selector, false)) as CachedResponse | undefined);
      } else if (entry !== undefined) {
        obj = entry;
      }
      const stored = await tier.variantsOf(primaryKey);
      const list = stored === undefined ? null : [...stored].map(([sel, o]) => ({ selector: sel, ...describeObject(o, now) }));
      tiers.push({ tier: tier.health().name, holds: entry !== undefined, vary, variants: list?.length ?? variants?.length ?? (obj !== undefined ? 1 : 0), selected: obj === undefined ? null : describeObject(obj, now), stored: list });
      if (found === null && obj !== undefined) found = { obj, tier: tier.name };
    }
    const lockKey = selector === '' ? primaryKey : primaryKey + VARIANT_SEPARATOR + selector;
    const unstored = this.lock.hitForPass.reasonOf(lockKey);
    let verdict: { serve: string; why: string; storable?: string };
    if (found === null) {
      verdict = unstored !== undefined
        ? { serve: 'miss', why: `nothing stored: the last response was not storable (${unstored}); misses go straight to the origin for now (hit-for-pass)`, storable: `no: ${unstored}` }
        : { serve: 'miss', why: 'nothing stored for this key and variant' };
    } else {
      const r = reuse(found.obj, now, null);
      const why = {
        fresh: `fresh in ${found.tier} for ${Math.floor((found.obj.lifetimeMs - currentAge(found.obj, now)) / 1000)} s more`,
        'stale-ok': 'stale, accepted',
        'stale-refresh': `stale within stale-while-revalidate${rule?.graceMs ? ' (rule grace)' : ''}: served now, refreshed in the background`,
        revalidate: found.obj.noCache ? 'no-cache: validated with the origin before use' : 'stale: validated with the origin before use',
      }[r];
      verdict = { serve: r === 'fresh' ? 'hit' : r === 'revalidate' ? 'revalidate' : 'stale', why, storable: 'yes: stored' };
    }
    return { ...base, rule: ruleOut, key: keyOut, tiers, verdict };
  }
}

function seconds(ms: number | null): number | null {
  return ms === null ? null : ms / 1000;
}

/** A stored header list ([name, value, …], delivery slots last) as fields; repeated names become arrays. */
function fieldsOf(list: readonly string[]): ResponseFields {
  const out: Record<string, string | string[]> = {};
  for (let i = 0; i + 1 < list.length; i += 2) {
    const name = list[i]!;
    const prev = out[name];
    out[name] = prev === undefined ? list[i + 1]! : Array.isArray(prev) ? [...prev, list[i + 1]!] : [prev, list[i + 1]!];
  }
  return out;
}

function describeStored(o: CachedResponse, now: number) {
  const age = currentAge(o, now);
  return {
    status: o.status,
    ageSeconds: Math.floor(age / 1000),
    ttlSeconds: Math.floor((o.lifetimeMs - age) / 1000),
    freshnessSeconds: Math.floor(o.lifetimeMs / 1000),
    staleWhileRevalidateSeconds: o.staleWhileRevalidateMs / 1000,
    staleIfErrorSeconds: o.staleIfErrorMs / 1000,
    validators: { etag: o.etag ?? null, lastModified: o.lastModified ?? null, any: hasValidator(o) },
    noCache: o.noCache,
    forbidStale: o.forbidStale,
    bytes: o.body.length,
  };
}
