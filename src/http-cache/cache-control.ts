import { splitOutsideQuotes } from './field-list';

/**
 * Cache-Control parsing (RFC 9111 §5.2).
 *
 * Directive names are case-insensitive (§5.2); quoted and token argument forms are both
 * accepted (§5.2: "recipients SHOULD accept both forms"). When a directive repeats, the first
 * occurrence wins (§4.2.1). An invalid delta-seconds is kept as NaN so callers can treat the
 * response as stale (§1.2.2, §4.2.1) instead of silently ignoring the directive.
 */
export interface CacheControl {
  maxAge?: number;
  sMaxage?: number;
  maxStale?: number; // Infinity when given without a value (§5.2.1.2)
  minFresh?: number;
  staleWhileRevalidate?: number; // RFC 5861 §3
  staleIfError?: number; // RFC 5861 §4
  noStore: boolean;
  noCache: boolean;
  private: boolean;
  public: boolean;
  mustRevalidate: boolean;
  proxyRevalidate: boolean;
  mustUnderstand: boolean;
  onlyIfCached: boolean;
  immutable: boolean;
}

export const EMPTY_CACHE_CONTROL: Readonly<CacheControl> = Object.freeze({
  noStore: false,
  noCache: false,
  private: false,
  public: false,
  mustRevalidate: false,
  proxyRevalidate: false,
  mustUnderstand: false,
  onlyIfCached: false,
  immutable: false,
});

/** delta-seconds (RFC 9111 §1.2.2): digits only; larger than 2^31 is capped to 2^31. */
export function parseDeltaSeconds(value: string | undefined): number {
  if (value === undefined || !/^\d+$/.test(value)) return NaN;
  const n = Number(value);
  return n > 2147483648 ? 2147483648 : n;
}


export function parseCacheControl(header: string | string[] | undefined): CacheControl {
  if (header === undefined) return { ...EMPTY_CACHE_CONTROL };
  const text = Array.isArray(header) ? header.join(',') : header;
  const cc: CacheControl = { ...EMPTY_CACHE_CONTROL };
  const seen = new Set<string>();
  for (const part of splitOutsideQuotes(text)) {
    const eq = part.indexOf('=');
    const name = (eq === -1 ? part : part.slice(0, eq)).trim().toLowerCase();
    if (!name || seen.has(name)) continue;
    seen.add(name);
    let arg: string | undefined = eq === -1 ? undefined : part.slice(eq + 1).trim();
    if (arg !== undefined && arg.length >= 2 && arg.startsWith('"') && arg.endsWith('"')) arg = arg.slice(1, -1);
    switch (name) {
      case 'max-age': cc.maxAge = parseDeltaSeconds(arg); break;
      case 's-maxage': cc.sMaxage = parseDeltaSeconds(arg); break;
      case 'max-stale': cc.maxStale = arg === undefined ? Infinity : parseDeltaSeconds(arg); break;
      case 'min-fresh': cc.minFresh = parseDeltaSeconds(arg); break;
      case 'stale-while-revalidate': cc.staleWhileRevalidate = parseDeltaSeconds(arg); break;
      case 'stale-if-error': cc.staleIfError = parseDeltaSeconds(arg); break;
      case 'no-store': cc.noStore = true; break;
      // Qualified no-cache="field" and private="field" are treated as their unqualified
      // forms: stricter than §5.2.2.4/§5.2.2.7 require, never less safe.
      case 'no-cache': cc.noCache = true; break;
      case 'private': cc.private = true; break;
      case 'public': cc.public = true; break;
      case 'must-revalidate': cc.mustRevalidate = true; break;
      case 'proxy-revalidate': cc.proxyRevalidate = true; break;
      case 'must-understand': cc.mustUnderstand = true; break;
      case 'only-if-cached': cc.onlyIfCached = true; break;
      case 'immutable': cc.immutable = true; break;
    }
  }
  return cc;
}
