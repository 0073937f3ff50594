import type { Glob } from '../invalidation/glob';

/** What a rule's `key` does to the query string. */
export interface QueryKeyPolicy {
  /** Parameters left out of the key, by exact name or glob. */
  ignore: readonly Glob[];
  sort: boolean;
  /** The whole query is left out of the key. */
  drop: boolean;
}

const UNRESERVED = /[A-Za-z0-9\-._~]/;

/**
 * A path in its normal form for the cache key (RFC 3986 §6.2.2): percent-encoded unreserved
 * characters decoded (§6.2.2.2), the hex digits of the other percent-encodings in upper case
 * (§6.2.2.1). `/%6b` and `/k` are one resource; `/a%2Fb` and `/a/b` stay two.
 */
export function normalizePath(path: string): string {
  if (path.indexOf('%') === -1) return path;
  let out = '';
  let last = 0;
  for (let i = path.indexOf('%'); i !== -1 && i + 2 < path.length; i = path.indexOf('%', i + 1)) {
    const hex = path.slice(i + 1, i + 3);
    if (!/^[0-9A-Fa-f]{2}$/.test(hex)) continue;
    const ch = String.fromCharCode(parseInt(hex, 16));
    out += path.slice(last, i) + (UNRESERVED.test(ch) ? ch : `%${hex.toUpperCase()}`);
    last = i + 3;
    i += 2;
  }
  return out + path.slice(last);
}

/** `path?query` as it goes into the cache key: the path normalised, the query as the rule says. */
export function keyTarget(target: string, query: QueryKeyPolicy | null): string {
  // The common case costs one scan and no allocation.
  if (query === null && target.indexOf('%') === -1) return target;
  const q = target.indexOf('?');
  if (q === -1) return normalizePath(target);
  const path = normalizePath(target.slice(0, q));
  if (query === null) return `${path}?${target.slice(q + 1)}`;
  if (query.drop) return path;
  let params = target.slice(q + 1).split('&').filter((p) => p !== '');
  if (query.ignore.length > 0) params = params.filter((p) => !ignored(paramName(p), query.ignore));
  if (query.sort) params.sort();
  return params.length === 0 ? path : `${path}?${params.join('&')}`;
}

function paramName(param: string): string {
  const eq = param.indexOf('=');
  const raw = eq === -1 ? param : param.slice(0, eq);
  if (raw.indexOf('%') === -1 && raw.indexOf('+') === -1) return raw;
  try {
    return decodeURIComponent(raw.replace(/\+/g, ' '));
  } catch {
    return raw;
  }
}

function ignored(name: string, globs: readonly Glob[]): boolean {
  for (const g of globs) if (g.matches(name)) return true;
  return false;
}

/** The request field a key cookie is carried in for variant selection: a token no client field can collide with. */
export function cookieKeyField(name: string): string {
  return `~cookie.${name.toLowerCase()}`;
}

/** One cookie's value from a Cookie field (RFC 6265 §5.4), '' when absent. */
export function cookieValue(header: string | undefined, name: string): string {
  if (header === undefined) return '';
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq !== -1 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return '';
}
