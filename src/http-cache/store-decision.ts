import { CacheControl, EMPTY_CACHE_CONTROL, parseCacheControl } from './cache-control';
import { Freshness, FreshnessPolicy, freshnessLifetime } from './freshness';
import { firstValue, ResponseFields } from './headers';
import { StoreRefusal, storeRefusal } from './storability';
import { surrogateControlFor } from './surrogate-control';
import { ParsedVary, parseVary } from './vary';

export interface StoreDecisionInputs {
  method: string;
  status: number;
  fields: ResponseFields;
  requestCc: CacheControl | null;
  requestHasAuthorization: boolean;
  /** When the response arrived: the clock for freshness (RFC 9111 §4.2). */
  responseTime: number;
  /** In reverse mode, Tiercel's name as a surrogate (Edge Architecture §2): its Surrogate-Control wins. */
  surrogateName: string | null;
  stripSetCookie: boolean;
  maxObjectBytes: number;
}

export interface StoreDecision {
  refusal: StoreRefusal | 'too-large' | null;
  responseCc: CacheControl;
  vary: ParsedVary;
  freshness: Freshness;
}

/**
 * The response directives Tiercel stores and computes freshness by: the Surrogate-Control
 * directives meant for it when it acts as a surrogate and there are any, else Cache-Control.
 */
export function responseDirectives(fields: ResponseFields, surrogateName: string | null): CacheControl {
  if (surrogateName !== null && fields['surrogate-control'] !== undefined) {
    const sc = surrogateControlFor(fields['surrogate-control'], surrogateName);
    if (sc !== null) return sc;
  }
  return parseCacheControl(fields['cache-control']);
}

/** Freshness of a response (RFC 9111 §4.2.1), from its fields and the time it arrived. */
export function responseFreshness(status: number, fields: ResponseFields, cc: CacheControl, responseTime: number, policy: FreshnessPolicy): Freshness {
  return freshnessLifetime(
    { status, cc, date: firstValue(fields.date), expires: firstValue(fields.expires), lastModified: firstValue(fields['last-modified']), responseTime },
    policy,
  );
}

/**
 * Whether a response may be stored (RFC 9111 §3), with the freshness and Vary it is stored
 * under. A body announced larger than the object cap is refused before any byte is read.
 */
export function decideStore(i: StoreDecisionInputs, policy: FreshnessPolicy): StoreDecision {
  const responseCc = responseDirectives(i.fields, i.surrogateName);
  const vary = parseVary(i.fields.vary);
  const freshness = responseFreshness(i.status, i.fields, responseCc, i.responseTime, policy);
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
  });
  const length = contentLength(i.fields['content-length']);
  if (refusal === null && length !== null && length > i.maxObjectBytes) refusal = 'too-large';
  return { refusal, responseCc, vary, freshness };
}

/** Content-Length as a number; null when absent or not a plain decimal (RFC 9110 §8.6). */
export function contentLength(v: string | string[] | undefined): number | null {
  const s = firstValue(v);
  return s !== undefined && /^\d{1,15}$/.test(s) ? Number(s) : null;
}
