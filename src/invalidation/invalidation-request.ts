import type { Invalidation, InvalidationTarget } from './invalidation';

const MAX_ITEMS = 1000;
const MAX_LENGTH = 4096;

export class InvalidationRequestError extends Error {}

/**
 * A URL as the cache keys it: `host/path?query` (scheme dropped for http). An https URL
 * names both keys: forward-mode https objects, and reverse-mode objects behind TLS termination.
 */
export function keysForUrl(raw: string): string[] {
  const text = raw.trim();
  if (!/^https?:\/\//i.test(text)) return [text];
  const url = new URL(text);
  const key = url.host.toLowerCase() + url.pathname + url.search;
  return url.protocol === 'https:' ? [key, `https://${key}`] : [key];
}

/** Strips a scheme from a pattern, so `https://api.example.com/*` and `api.example.com/*` agree. */
function patternKey(raw: string): string {
  return raw.trim().replace(/^https?:\/\//i, '');
}

/**
 * Validates the body of POST /admin/invalidate. Throws InvalidationRequestError with a clear
 * message. `keyOf` puts a URL's key and a pattern in the cache key's normal form (the policy's).
 */
export function parseInvalidationRequest(body: unknown, keyOf: (key: string) => string = (k) => k, patternOf: (pattern: string) => string = (p) => p): Invalidation {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new InvalidationRequestError('body must be a JSON object with one of "urls", "pattern", "tags" or "all"');
  }
  const b = body as Record<string, unknown>;
  const given = ['urls', 'pattern', 'tags', 'all'].filter((k) => b[k] !== undefined);
  if (given.length !== 1) {
    throw new InvalidationRequestError(`give exactly one of "urls", "pattern", "tags" or "all" (got ${given.length ? given.join(', ') : 'none'})`);
  }
  const unknown = Object.keys(b).filter((k) => !['urls', 'pattern', 'tags', 'all', 'soft'].includes(k));
  if (unknown.length) throw new InvalidationRequestError(`unknown field(s): ${unknown.join(', ')}`);
  if (b.soft !== undefined && typeof b.soft !== 'boolean') throw new InvalidationRequestError('"soft" must be true or false');
  const soft = b.soft === true;
  let target: InvalidationTarget;
  switch (given[0]) {
    case 'urls': {
      const urls = stringList(b.urls, 'urls');
      try {
        target = { kind: 'urls', keys: [...new Set(urls.flatMap(keysForUrl).map(keyOf))] };
      } catch {
        throw new InvalidationRequestError('"urls" must hold URLs such as https://api.example.com/users/1 or host/path keys');
      }
      break;
    }
    case 'tags':
      target = { kind: 'tags', tags: stringList(b.tags, 'tags') };
      break;
    case 'pattern': {
      if (typeof b.pattern !== 'string' || !b.pattern.trim() || b.pattern.length > MAX_LENGTH) {
        throw new InvalidationRequestError('"pattern" must be a non-empty glob over host/path?query, such as "api.example.com/users/*"');
      }
      target = { kind: 'pattern', pattern: patternOf(patternKey(b.pattern)) };
      break;
    }
    default:
      if (b.all !== true) throw new InvalidationRequestError('"all" must be true');
      target = { kind: 'all' };
  }
  return { target, soft };
}

function stringList(v: unknown, name: string): string[] {
  if (!Array.isArray(v) || v.length === 0 || v.length > MAX_ITEMS || !v.every((s) => typeof s === 'string' && s.trim() && s.length <= MAX_LENGTH)) {
    throw new InvalidationRequestError(`"${name}" must be a non-empty array of at most ${MAX_ITEMS} non-empty strings`);
  }
  return v.map((s: string) => s.trim());
}
