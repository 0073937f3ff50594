import { splitOutsideQuotes } from './field-list';
import type { IncomingHttpHeaders } from 'node:http';
import { parseHttpDate } from './http-date';

/** Weak comparison of entity tags (RFC 9110 §8.8.3.2): W/ prefixes are ignored. */
function opaque(tag: string): string {
  const t = tag.trim();
  return t.startsWith('W/') ? t.slice(2) : t;
}

/** If-None-Match (RFC 9110 §13.1.2) uses weak comparison; `*` matches any current representation. */
export function ifNoneMatchMatches(header: string, etag: string | undefined): boolean {
  if (header.trim() === '*') return true;
  if (etag === undefined) return false;
  const mine = opaque(etag);
  for (const tag of splitOutsideQuotes(header)) if (opaque(tag) === mine) return true;
  return false;
}

/**
 * Whether a stored response answers the client's conditional GET/HEAD with 304 (RFC 9110 §13.2.2):
 * If-None-Match first; If-Modified-Since only when If-None-Match is absent.
 */
export function notModified(headers: IncomingHttpHeaders, etag: string | undefined, lastModified: string | undefined, date: string | undefined): boolean {
  const inm = headers['if-none-match'];
  if (inm !== undefined) return ifNoneMatchMatches(inm, etag);
  const ims = headers['if-modified-since'];
  if (ims === undefined) return false;
  const since = parseHttpDate(ims);
  if (Number.isNaN(since)) return false;
  // §13.1.3: without Last-Modified, the stored Date is the best evidence of the representation's age.
  const modified = parseHttpDate(lastModified ?? date);
  return !Number.isNaN(modified) && modified <= since;
}

/** Whether a request carries preconditions the cache would have to evaluate. */
export function isConditional(headers: IncomingHttpHeaders): boolean {
  return headers['if-none-match'] !== undefined || headers['if-modified-since'] !== undefined;
}

/**
 * Whether a 304 received for a stored response may update it (RFC 9111 §4.3.4). A strong ETag
 * in the 304 must match the stored one strongly, a weak one weakly; without an ETag, a
 * Last-Modified must name the same instant. A 304 carrying no validator answers the conditional
 * request Tiercel built from this very response, so it updates it.
 */
export function validatorsMatch(storedEtag: string | undefined, storedLastModified: string | undefined, etag: string | undefined, lastModified: string | undefined): boolean {
  if (etag !== undefined) {
    if (storedEtag === undefined) return false;
    const a = etag.trim();
    const b = storedEtag.trim();
    // §4.3.4: a strong validator identifies the representation only by strong comparison (RFC 9110 §8.8.3.2).
    if (!a.startsWith('W/')) return !b.startsWith('W/') && a === b;
    return opaque(a) === opaque(b);
  }
  if (lastModified !== undefined) {
    const mine = parseHttpDate(storedLastModified);
    return !Number.isNaN(mine) && mine === parseHttpDate(lastModified);
  }
  return true;
}
