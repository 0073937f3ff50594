import { CacheControl } from './cache-control';
import { Freshness, HEURISTICALLY_CACHEABLE } from './freshness';

/**
 * Why a response was not stored. The same code feeds the Cache-Status `detail`, logs and stats,
 * so the four never disagree.
 */
export type StoreRefusal =
  | 'method'
  | 'status'
  | 'partial'
  | 'no-store'
  | 'private'
  | 'authorization'
  | 'set-cookie'
  | 'vary-star'
  | 'no-freshness';

/** Status codes whose semantics Tiercel understands, for must-understand (RFC 9111 §5.2.2.3). */
const UNDERSTOOD_STATUSES = new Set([
  200, 203, 204, 300, 301, 302, 303, 307, 308, 400, 403, 404, 405, 410, 414, 421, 451, 500, 501, 502, 503, 504,
]);

export interface StorabilityInputs {
  method: string;
  status: number;
  requestCc: CacheControl;
  responseCc: CacheControl;
  requestHasAuthorization: boolean;
  responseHasSetCookie: boolean;
  /** Set-Cookie is removed from the stored copy instead of refusing it (CACHE_STRIP_SET_COOKIE). */
  stripSetCookie: boolean;
  varyStar: boolean;
  hasValidator: boolean;
  freshness: Freshness;
  /** A 206 to a Range request, kept as a part (RFC 9111 §3.3) instead of refused. */
  partialStorage?: boolean;
}

/** Whether a shared cache may store a response (RFC 9111 §3); null when it may. */
export function storeRefusal(i: StorabilityInputs): StoreRefusal | null {
  // §3: the request method is understood and cacheable; Tiercel stores GET only (HEAD is served from GET).
  if (i.method !== 'GET') return 'method';
  // §3: a final status; 206 is never stored as a full object and 304 only updates (§3.3, §4.3.4).
  if (i.status === 206 && i.partialStorage !== true) return 'partial';
  if (i.status < 200 || i.status === 304 || i.status > 599) return 'status';
  // §5.2.2.3: must-understand lets a cache that understands the status ignore no-store.
  if (i.responseCc.mustUnderstand) {
    if (!UNDERSTOOD_STATUSES.has(i.status)) return 'status';
  } else if (i.responseCc.noStore) {
    return 'no-store';
  }
  // §5.2.1.5: no-store on the request forbids storing the response too.
  if (i.requestCc.noStore) return 'no-store';
  // §5.2.2.7: private responses are for a private cache only.
  if (i.responseCc.private) return 'private';
  // §3.5: a response to an authenticated request is shared only when the origin says so.
  if (i.requestHasAuthorization && !(i.responseCc.public || i.responseCc.mustRevalidate || i.responseCc.sMaxage !== undefined)) {
    return 'authorization';
  }
  // RFC 6265 §8: a Set-Cookie in a shared object would hand one user's session to the next.
  if (i.responseHasSetCookie && !i.stripSetCookie) return 'set-cookie';
  // §4.1: Vary: * never matches a later request.
  if (i.varyStar) return 'vary-star';
  // §3: without explicit freshness or `public`, only heuristically cacheable statuses may be stored.
  const explicit = i.freshness.source === 's-maxage' || i.freshness.source === 'max-age' || i.freshness.source === 'expires' || i.freshness.source === 'rule' || i.responseCc.public;
  if (!explicit && !HEURISTICALLY_CACHEABLE.has(i.status)) return 'no-freshness';
  // Storing something that can never be reused without a full fetch only evicts useful objects.
  const reusable = i.freshness.lifetimeMs > 0 || i.hasValidator || i.responseCc.noCache
    || (i.responseCc.staleWhileRevalidate ?? 0) > 0 || (i.responseCc.staleIfError ?? 0) > 0;
  if (!reusable || (i.freshness.source === 'none' && !i.responseCc.noCache && !i.hasValidator)) return 'no-freshness';
  return null;
}

/**
 * Whether a POST response may be stored for later GETs of its target (RFC 9110 §9.3.3: "Responses
 * to POST requests are only cacheable when they include explicit freshness information and a
 * Content-Location header field that has the same value as the POST's target URI"). Tiercel takes
 * only a Content-Location that is a path reference resolving to the request's own path and query;
 * an absolute one, which names some authority, is not trusted to be this origin. Explicit freshness
 * is checked by the caller, from the governing directives.
 */
export function postNamesItsTarget(contentLocation: string | string[] | undefined, path: string): boolean {
  if (typeof contentLocation !== 'string' || !contentLocation.startsWith('/') || contentLocation.startsWith('//')) return false;
  try {
    const base = new URL(`http://target.invalid${path}`);
    const cl = new URL(contentLocation, base);
    return cl.host === 'target.invalid' && cl.pathname + cl.search === base.pathname + base.search;
  } catch {
    return false;
  }
}
