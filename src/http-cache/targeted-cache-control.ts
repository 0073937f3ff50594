import { CacheControl, EMPTY_CACHE_CONTROL } from './cache-control';

/**
 * Targeted cache-control fields (RFC 9213). The cache's target list, most specific first, is
 * `<CACHE_NAME>-Cache-Control` then `CDN-Cache-Control` (§3: "CDN-Cache-Control ... targeted at
 * content delivery network caches"); Tiercel uses them in reverse mode only, where it caches on the
 * origin's behalf. §2.1: the cache "MUST select the first (in target list order) field with a
 * valid, non-empty value ... and it MUST ignore the Cache-Control and Expires header fields in
 * that response, unless no valid, non-empty value is available from the listed header fields."
 */

/** The target list for a cache named `name` (CACHE_NAME): its own field, then CDN-Cache-Control. */
export function targetList(name: string): readonly string[] {
  return [`${name.toLowerCase()}-cache-control`, 'cdn-cache-control'];
}

export interface TargetedDirectives {
  /** The lower-case name of the field that governs (one of the target list). */
  field: string;
  cc: CacheControl;
}

/** The first field of the target list with a valid, non-empty value (§2.1), or null. */
export function targetedDirectives(fields: Readonly<Record<string, string | string[] | undefined>>, targets: readonly string[]): TargetedDirectives | null {
  for (const field of targets) {
    const value = fields[field];
    if (value === undefined) continue;
    const cc = parseTargetedField(Array.isArray(value) ? value.join(', ') : value);
    if (cc !== null) return { field, cc };
  }
  return null;
}

/**
 * A targeted field's value as Cache-Control, or null when it is empty or invalid. §2.2: the value
 * is a Dictionary (RFC 8941 §3.2); "If a targeted field in a given response is empty, or a parsing
 * error is encountered ..., that field SHOULD be ignored by the cache". Directives take the
 * Cache-Control meanings; a delta-seconds one must be an Integer (so `max-age="60"` is invalid,
 * and the field with it), the others are Booleans or, like `no-cache="a"`, read as unqualified.
 */
export function parseTargetedField(text: string): CacheControl | null {
  const dict = parseDictionary(text);
  if (dict === null || dict.size === 0) return null;
  const cc: CacheControl = { ...EMPTY_CACHE_CONTROL };
  for (const [key, value] of dict) {
    const seconds = typeof value === 'number' && value >= 0 ? Math.min(value, 2147483648) : NaN;
    switch (key) {
      case 'max-age': case 's-maxage': case 'stale-while-revalidate': case 'stale-if-error':
        if (Number.isNaN(seconds)) return null;
        if (key === 'max-age') cc.maxAge = seconds;
        else if (key === 's-maxage') cc.sMaxage = seconds;
        else if (key === 'stale-while-revalidate') cc.staleWhileRevalidate = seconds;
        else cc.staleIfError = seconds;
        break;
      case 'no-store': cc.noStore = value !== false; break;
      case 'no-cache': cc.noCache = value !== false; break;
      case 'private': cc.private = value !== false; break;
      case 'public': cc.public = value === true; break;
      case 'must-revalidate': cc.mustRevalidate = value !== false; break;
      case 'proxy-revalidate': cc.proxyRevalidate = value !== false; break;
      case 'must-understand': cc.mustUnderstand = value === true; break;
      case 'immutable': cc.immutable = value === true; break;
    }
  }
  return cc;
}

/** An Integer is a number; a Decimal stays apart so that `max-age=60.0` is not an Integer. */
type Bare = number | string | boolean | { decimal: number } | { token: string } | { bytes: string };
type Member = Bare | Bare[];

/** RFC 8941 §4.2.2 Dictionary; parameters are parsed and dropped. Null on any parsing error. */
export function parseDictionary(input: string): Map<string, Member> | null {
  const s = input.replace(/^[ \t]+|[ \t]+$/g, '');
  const out = new Map<string, Member>();
  let i = 0;
  while (i < s.length) {
    const key = /^[a-z*][a-z0-9_\-.*]*/.exec(s.slice(i));
    if (key === null) return null;
    i += key[0].length;
    let member: Member = true;
    if (s[i] === '=') {
      i++;
      const parsed = s[i] === '(' ? innerList(s, i) : bareItem(s, i);
      if (parsed === null) return null;
      member = parsed.value;
      i = parsed.next;
    }
    const p = params(s, i);
    if (p === null) return null;
    i = p;
    // Later duplicates overwrite earlier ones (§4.2.2).
    out.set(key[0], member);
    while (s[i] === ' ' || s[i] === '\t') i++;
    if (i >= s.length) return out;
    if (s[i] !== ',') return null;
    i++;
    while (s[i] === ' ' || s[i] === '\t') i++;
    if (i >= s.length) return null; // a trailing comma
  }
  return out;
}

function innerList(s: string, start: number): { value: Bare[]; next: number } | null {
  const value: Bare[] = [];
  let i = start + 1;
  for (;;) {
    while (s[i] === ' ') i++;
    if (s[i] === ')') return { value, next: i + 1 };
    const item = bareItem(s, i);
    if (item === null) return null;
    value.push(item.value);
    const p = params(s, item.next);
    if (p === null) return null;
    i = p;
    if (s[i] !== ' ' && s[i] !== ')') return null;
  }
}

function params(s: string, start: number): number | null {
  let i = start;
  while (s[i] === ';') {
    i++;
    while (s[i] === ' ') i++;
    const key = /^[a-z*][a-z0-9_\-.*]*/.exec(s.slice(i));
    if (key === null) return null;
    i += key[0].length;
    if (s[i] === '=') {
      const item = bareItem(s, i + 1);
      if (item === null) return null;
      i = item.next;
    }
  }
  return i;
}

function bareItem(s: string, i: number): { value: Bare; next: number } | null {
  const rest = s.slice(i);
  let m: RegExpExecArray | null;
  if ((m = /^-?\d{1,15}(?![\d.])/.exec(rest))) return { value: Number(m[0]), next: i + m[0].length };
  if ((m = /^-?\d{1,12}\.\d{1,3}(?!\d)/.exec(rest))) return { value: { decimal: Number(m[0]) }, next: i + m[0].length };
  if ((m = /^"((?:[\x20\x21\x23-\x5b\x5d-\x7e]|\\["\\])*)"/.exec(rest))) return { value: m[1]!.replace(/\\(["\\])/g, '$1'), next: i + m[0].length };
  if ((m = /^[A-Za-z*][!#$%&'*+\-.^_`|~0-9A-Za-z:/]*/.exec(rest))) return { value: { token: m[0] }, next: i + m[0].length };
  if ((m = /^:([A-Za-z0-9+/=]*):/.exec(rest))) return { value: { bytes: m[1]! }, next: i + m[0].length };
  if ((m = /^\?([01])/.exec(rest))) return { value: m[1] === '1', next: i + m[0].length };
  return null;
}
