import { CacheControl, EMPTY_CACHE_CONTROL, parseCacheControl } from './cache-control';
import { Freshness, FreshnessPolicy, freshnessLifetime, HEURISTICALLY_CACHEABLE } from './freshness';
import { firstValue, ResponseFields } from './headers';
import { StoreRefusal, storeRefusal } from './storability';
import { surrogateControlFor } from './surrogate-control';
import { targetedDirectives, targetList } from './targeted-cache-control';
import { ParsedVary, parseVary } from './vary';

export interface StoreDecisionInputs {
  method: string;
  status: number;
  fields: ResponseFields;
  requestCc: CacheControl | null;
  requestHasAuthorization: boolean;
  /** When the response arrived: the clock for freshness (RFC 9111 §4.2). */
  responseTime: number;
  /**
   * In reverse mode, Tiercel's name (CACHE_NAME) as a targeted cache: `<name>-Cache-Control`, then
   * CDN-Cache-Control (RFC 9213), then Surrogate-Control targeted at it (Edge Architecture §2) win
   * over Cache-Control. Null in forward mode, where Tiercel does not act for the origin.
   */
  surrogateName: string | null;
  stripSetCookie: boolean;
  maxObjectBytes: number;
  /** The request was a Range request whose 206 may be stored as a part (RFC 9111 §3.3). */
  partialStorage?: boolean;
  /** The operator's rule for this request, if one matched (TIERCEL_CONFIG). */
  rule?: RuleFreshness | null;
}

export interface StoreDecision {
  refusal: StoreRefusal | 'too-large' | null;
  responseCc: CacheControl;
  /**
   * What decided the stored freshness (freshnessGovernor): `rule`, or the field whose directives
   * governed: cache-control, surrogate-control or a targeted field.
   */
  governedBy: string;
  vary: ParsedVary;
  freshness: Freshness;
}

/** The directives a response is stored and judged fresh by, and the field they came from. */
export interface GoverningDirectives {
  cc: CacheControl;
  /** Lower-case field name: `cache-control`, `surrogate-control`, or one of the target list (RFC 9213). */
  field: string;
}

const targetLists = new Map<string, readonly string[]>();

/**
 * The response directives Tiercel stores and computes freshness by. In reverse mode, in this
 * order: `<CACHE_NAME>-Cache-Control`, CDN-Cache-Control (RFC 9213 §2.1, the first valid,
 * non-empty one), Surrogate-Control meant for Tiercel; else Cache-Control. An operator policy
 * that overrides the origin sits above all of these; one that only supplies a default ttl, below.
 */
export function responseDirectives(fields: ResponseFields, surrogateName: string | null): GoverningDirectives {
  if (surrogateName !== null) {
    let targets = targetLists.get(surrogateName);
    if (targets === undefined) targetLists.set(surrogateName, (targets = targetList(surrogateName)));
    const targeted = targetedDirectives(fields, targets);
    if (targeted !== null) return targeted;
    if (fields['surrogate-control'] !== undefined) {
      const sc = surrogateControlFor(fields['surrogate-control'], surrogateName);
      if (sc !== null) return { cc: sc, field: 'surrogate-control' };
    }
  }
  return { cc: parseCacheControl(fields['cache-control']), field: 'cache-control' };
}

/**
 * Freshness of a response (RFC 9111 §4.2.1), from its fields and the time it arrived. When
 * another field governs, Expires is ignored with Cache-Control (RFC 9213 §2.1).
 */
export function responseFreshness(status: number, fields: ResponseFields, d: GoverningDirectives, responseTime: number, policy: FreshnessPolicy): Freshness {
  return freshnessLifetime(
    { status, cc: d.cc, date: firstValue(fields.date), expires: d.field === 'cache-control' ? firstValue(fields.expires) : undefined, lastModified: firstValue(fields['last-modified']), responseTime },
    policy,
  );
}

/** What an operator's rule sets (src/policy/policy.ts compiles it from the file). */
export interface RuleFreshness {
  ttlMs: number | null;
  override: boolean;
  statusTtlMs: ReadonlyMap<number, number> | null;
  graceMs: number;
}

const ORIGIN_EXPLICIT = new Set(['s-maxage', 'max-age', 'expires']);

/**
 * What decided a stored response's freshness: `rule` when the operator's rule set it (an
 * `override: true` rule above every origin field, or a ttl where the origin gave no explicit
 * freshness), else the field whose directives were followed (`<CACHE_NAME>-cache-control`,
 * `cdn-cache-control`, `surrogate-control`, `cache-control`). RFC 9213 §2.1: when a targeted
 * field with a valid value is present the cache "MUST ignore the Cache-Control and Expires header
 * fields", so the targeted field governs even where it only says `public` and freshness ends up
 * heuristic.
 */
export function freshnessGovernor(origin: GoverningDirectives, freshness: Freshness): string {
  return freshness.source === 'rule' ? 'rule' : origin.field;
}

/** The governing instruction as explain shows it: the field and its value as received, or the rule. */
export interface FreshnessFrom {
  /** `rule`, or a lower-case field name (freshnessGovernor). */
  field: string;
  /** The field's value as received (lines joined with `, `); null for `rule` or an absent Cache-Control. */
  value: string | null;
  /** Which part of it set the lifetime (s-maxage, max-age, expires, heuristic, default-ttl, rule, none). */
  source: Freshness['source'];
  lifetimeSeconds: number;
}

/**
 * Recomputes, from a stored response's own fields, the instruction its freshness came from, by
 * the same precedence storing used (storedFreshness), so an operator can see which field or rule
 * a stored object answers to.
 */
export function freshnessFrom(status: number, fields: ResponseFields, surrogateName: string | null, responseTime: number, policy: FreshnessPolicy, rule: RuleFreshness | null): FreshnessFrom {
  const origin = responseDirectives(fields, surrogateName);
  const { freshness } = storedFreshness(status, fields, origin, responseTime, policy, rule);
  const field = freshnessGovernor(origin, freshness);
  const raw = field === 'rule' ? undefined : fields[field];
  return { field, value: raw === undefined ? null : Array.isArray(raw) ? raw.join(', ') : raw, source: freshness.source, lifetimeSeconds: Math.floor(freshness.lifetimeMs / 1000) };
}

/**
 * The directives and freshness a response is stored under, in this order of precedence:
 *   1. a rule with `override: true`: its ttl (or status_ttl) replaces the origin's freshness, and
 *      the origin's no-store, private, no-cache and must-revalidate no longer apply;
 *   2. the origin's explicit freshness (responseDirectives: `<CACHE_NAME>-Cache-Control`, then
 *      CDN-Cache-Control (RFC 9213), then Surrogate-Control for Tiercel, then Cache-Control
 *      s-maxage / max-age, then Expires);
 *   3. the rule's ttl when the origin gives no explicit freshness;
 *   4. heuristic freshness (RFC 9111 §4.2.2), then CACHE_DEFAULT_TTL.
 * A rule's ttl covers the heuristically cacheable statuses (RFC 9110 §15.1); status_ttl names
 * any status. grace widens stale-while-revalidate and stale-if-error (RFC 5861) to at least its
 * length. CACHE_MAX_AGE caps the result: the object turns stale there and is revalidated.
 */
export function storedFreshness(status: number, fields: ResponseFields, origin: GoverningDirectives, responseTime: number, policy: FreshnessPolicy, rule: RuleFreshness | null): { cc: CacheControl; freshness: Freshness } {
  let freshness = responseFreshness(status, fields, origin, responseTime, policy);
  let cc = origin.cc;
  if (rule !== null) {
    const ttl = rule.statusTtlMs?.get(status) ?? (HEURISTICALLY_CACHEABLE.has(status) ? rule.ttlMs : null);
    if (ttl !== null && (rule.override || !ORIGIN_EXPLICIT.has(freshness.source))) freshness = { lifetimeMs: ttl, source: 'rule' };
    if (rule.override) cc = { ...cc, noStore: false, private: false, noCache: false, mustRevalidate: false, proxyRevalidate: false, sMaxage: undefined, mustUnderstand: false };
    if (rule.graceMs > 0) {
      const grace = rule.graceMs / 1000;
      cc = { ...cc, staleWhileRevalidate: Math.max(validOrZero(cc.staleWhileRevalidate), grace), staleIfError: Math.max(validOrZero(cc.staleIfError), grace) };
    }
  }
  const cap = policy.maxAgeMs ?? 0;
  if (cap > 0 && freshness.lifetimeMs > cap) freshness = { lifetimeMs: cap, source: freshness.source };
  return { cc, freshness };
}

function validOrZero(v: number | undefined): number {
  return v === undefined || Number.isNaN(v) ? 0 : v;
}

/**
 * Whether a response may be stored (RFC 9111 §3), with the freshness and Vary it is stored
 * under. A body announced larger than the object cap is refused before any byte is read.
 */
export function decideStore(i: StoreDecisionInputs, policy: FreshnessPolicy): StoreDecision {
  const directives = responseDirectives(i.fields, i.surrogateName);
  const { cc: responseCc, freshness } = storedFreshness(i.status, i.fields, directives, i.responseTime, policy, i.rule ?? null);
  const vary = parseVary(i.fields.vary);
  let refusal: StoreDecision['refusal'] = storeRefusal({
    method: i.method,
    status: i.status,
    requestCc: i.requestCc ?? EMPTY_CACHE_CONTROL,
    responseCc,
    requestHasAuthorization: i.requestHasAuthorization,
    responseHasSetCookie: i.fields['set-cookie'] !== undefined,
    stripSetCookie: i.stripSetCookie,
    varyStar: vary.star,
    hasValidator: i.fields.etag !== undefined || i.fields['last-modified'] !== undefined,
    freshness,
    partialStorage: i.partialStorage,
  });
  const length = contentLength(i.fields['content-length']);
  if (refusal === null && length !== null && length > i.maxObjectBytes) refusal = 'too-large';
  return { refusal, responseCc, governedBy: freshnessGovernor(directives, freshness), vary, freshness };
}

/** Content-Length as a number; null when absent or not a plain decimal (RFC 9110 §8.6). */
export function contentLength(v: string | string[] | undefined): number | null {
  const s = firstValue(v);
  return s !== undefined && /^\d{1,15}$/.test(s) ? Number(s) : null;
}
