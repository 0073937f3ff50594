import type { CacheControl } from './cache-control';
import type { StoredFreshness } from './reuse';

/** A stored response's facts that stale-if-error needs, beyond its freshness. */
export interface StaleIfErrorFacts extends StoredFreshness {
  staleIfErrorMs: number;
}

/**
 * What counts as an error for stale-if-error (RFC 5861 §4): the origin could not be reached or
 * answered with a 5xx. Both are one case: `status` is the 5xx, or 0 when nothing came back.
 */
export function isOriginError(status: number): boolean {
  return status === 0 || status >= 500;
}

/**
 * Whether a stale response may stand in for an origin error (RFC 5861 §4; RFC 9111 §4.2.4):
 * within the larger of the response's and the request's stale-if-error windows, and never when
 * must-revalidate, proxy-revalidate or s-maxage forbid serving stale (§5.2.2.2, §5.2.2.8, §5.2.2.10).
 */
export function staleIfErrorAllows(stale: StaleIfErrorFacts, now: number, requestCc: CacheControl | null, status: number): boolean {
  if (!isOriginError(status) || stale.forbidStale) return false;
  const staleness = stale.initialAgeMs + (now - stale.responseTime) - stale.lifetimeMs;
  const requested = requestCc?.staleIfError;
  const window = Math.max(stale.staleIfErrorMs, requested !== undefined && !Number.isNaN(requested) ? requested * 1000 : 0);
  return staleness <= window;
}
