import { CacheControl, parseDeltaSeconds } from './cache-control';
import { parseHttpDate } from './http-date';

/** Status codes that are heuristically cacheable by default (RFC 9110 §15.1). */
export const HEURISTICALLY_CACHEABLE = new Set([200, 203, 204, 206, 300, 301, 308, 404, 405, 410, 414, 501]);

/** The heuristic fraction of the time since Last-Modified (RFC 9111 §4.2.2 suggests 10%). */
export const HEURISTIC_FRACTION = 0.1;

export interface FreshnessInputs {
  status: number;
  cc: CacheControl;
  date: string | undefined;
  expires: string | undefined;
  lastModified: string | undefined;
  /** When the response arrived; stands in for a missing or invalid Date (RFC 9110 §6.6.1). */
  responseTime: number;
}

export interface FreshnessPolicy {
  heuristicMaxMs: number;
  defaultTtlMs: number;
  /** CACHE_MAX_AGE: no stored object is fresh for longer (0 or absent: no cap). */
  maxAgeMs?: number;
}

export type FreshnessSource = 's-maxage' | 'max-age' | 'expires' | 'heuristic' | 'default-ttl' | 'rule' | 'none';

export interface Freshness {
  lifetimeMs: number;
  source: FreshnessSource;
}

/** Freshness lifetime for a shared cache (RFC 9111 §4.2.1): s-maxage, then max-age, then Expires, then heuristics. */
export function freshnessLifetime(input: FreshnessInputs, policy: FreshnessPolicy): Freshness {
  const { cc } = input;
  // An invalid value makes the response stale rather than falling through to the next rule (§4.2.1).
  if (cc.sMaxage !== undefined) return { lifetimeMs: validSeconds(cc.sMaxage), source: 's-maxage' };
  if (cc.maxAge !== undefined) return { lifetimeMs: validSeconds(cc.maxAge), source: 'max-age' };
  const dateValue = dateOrResponseTime(input.date, input.responseTime);
  if (input.expires !== undefined) {
    // §5.3: an invalid Expires (such as "0") means already expired.
    const expires = parseHttpDate(input.expires);
    return { lifetimeMs: Number.isNaN(expires) ? 0 : Math.max(0, expires - dateValue), source: 'expires' };
  }
  // §4.2.2: heuristics only where the status allows them, or `public` says so.
  if (HEURISTICALLY_CACHEABLE.has(input.status) || cc.public) {
    const lastModified = parseHttpDate(input.lastModified);
    if (!Number.isNaN(lastModified) && lastModified < dateValue) {
      const lifetime = Math.min((dateValue - lastModified) * HEURISTIC_FRACTION, policy.heuristicMaxMs);
      return { lifetimeMs: Math.floor(lifetime), source: 'heuristic' };
    }
    if (policy.defaultTtlMs > 0) return { lifetimeMs: policy.defaultTtlMs, source: 'default-ttl' };
  }
  return { lifetimeMs: 0, source: 'none' };
}

function validSeconds(seconds: number): number {
  return Number.isNaN(seconds) ? 0 : seconds * 1000;
}

function dateOrResponseTime(date: string | undefined, responseTime: number): number {
  const parsed = parseHttpDate(date);
  return Number.isNaN(parsed) ? responseTime : parsed;
}

/**
 * The corrected initial age (RFC 9111 §4.2.3): the age a response already had when it arrived.
 * current_age is then correctedInitialAge + (now - responseTime).
 */
export function correctedInitialAge(ageHeader: string | undefined, date: string | undefined, requestTime: number, responseTime: number): number {
  // A list of Age values (a repeated header) is invalid; the first one is used (§5.1).
  const first = ageHeader?.split(',')[0]?.trim();
  const ageSeconds = parseDeltaSeconds(first);
  const ageValue = Number.isNaN(ageSeconds) ? 0 : ageSeconds * 1000;
  const apparentAge = Math.max(0, responseTime - dateOrResponseTime(date, responseTime));
  const responseDelay = responseTime - requestTime;
  return Math.max(apparentAge, ageValue + responseDelay);
}
