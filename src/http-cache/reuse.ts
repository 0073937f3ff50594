import { CacheControl } from './cache-control';

/** What a stored response's state at lookup time allows (RFC 9111 §4, §4.2.4; RFC 5861). */
export type Reuse =
  | 'fresh' // serve it
  | 'stale-ok' // stale, but the client's max-stale accepts it (§5.2.1.2)
  | 'stale-refresh' // stale within stale-while-revalidate: serve and refresh in the background (RFC 5861 §3)
  | 'revalidate'; // validate with the origin before use (§4.3)

/** The freshness facts a stored response carries, precomputed at store time. */
export interface StoredFreshness {
  /** current_age at responseTime (RFC 9111 §4.2.3 corrected_initial_age), ms. */
  initialAgeMs: number;
  responseTime: number;
  lifetimeMs: number;
  staleWhileRevalidateMs: number;
  /** no-cache on the response: every use needs validation (§5.2.2.4). */
  noCache: boolean;
  /** must-revalidate, proxy-revalidate or s-maxage: never served stale (§5.2.2.2, §5.2.2.8, §5.2.2.10). */
  forbidStale: boolean;
}

/** current_age (RFC 9111 §4.2.3). */
export function currentAge(s: StoredFreshness, now: number): number {
  return s.initialAgeMs + (now - s.responseTime);
}

/** Request directives that constrain reuse; null on the hot path when the request has none. */
export function reuse(s: StoredFreshness, now: number, request: CacheControl | null): Reuse {
  const age = s.initialAgeMs + (now - s.responseTime);
  const fresh = s.lifetimeMs > age;
  if (request === null) {
    if (s.noCache) return 'revalidate';
    if (fresh) return 'fresh';
    if (s.forbidStale) return 'revalidate';
    return withinWindow(age - s.lifetimeMs, s.staleWhileRevalidateMs) ? 'stale-refresh' : 'revalidate';
  }
  // §5.2.1.4: no-cache on the request means validate before use.
  if (s.noCache || request.noCache) return 'revalidate';
  // §5.2.1.1: the client will not accept a response older than max-age.
  if (request.maxAge !== undefined && !(age <= (Number.isNaN(request.maxAge) ? 0 : request.maxAge * 1000))) return 'revalidate';
  if (fresh) {
    // §5.2.1.3: min-fresh asks for at least that much freshness left.
    if (request.minFresh !== undefined && s.lifetimeMs - age < (Number.isNaN(request.minFresh) ? 0 : request.minFresh * 1000)) return 'revalidate';
    return 'fresh';
  }
  if (s.forbidStale) return 'revalidate';
  const staleness = age - s.lifetimeMs;
  if (request.maxStale !== undefined && !Number.isNaN(request.maxStale) && staleness <= request.maxStale * 1000) return 'stale-ok';
  // §5.2.1.1, §5.2.1.3: a client that sets max-age or min-fresh without max-stale does not want stale.
  if ((request.maxAge !== undefined || request.minFresh !== undefined) && request.maxStale === undefined) return 'revalidate';
  return withinWindow(staleness, s.staleWhileRevalidateMs) ? 'stale-refresh' : 'revalidate';
}

/** Within a stale window (RFC 5861): a window of zero permits nothing, even at the exact moment of expiry. */
function withinWindow(staleness: number, windowMs: number): boolean {
  return windowMs > 0 && staleness <= windowMs;
}
