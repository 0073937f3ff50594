import { firstValue, ResponseFields } from './headers';

/**
 * What a successful unsafe request invalidates (RFC 9111 §4.4): its target URI, and the URIs in
 * Location and Content-Location when they have the same origin (so one origin cannot purge
 * another's objects). Keys are `host/path?query`, as the cache stores them.
 */
export function unsafeMethodTargets(primaryKey: string, path: string, fields: ResponseFields): string[] {
  const keys = [primaryKey];
  const host = primaryKey.slice(0, primaryKey.length - path.length);
  for (const name of ['location', 'content-location'] as const) {
    const value = firstValue(fields[name]);
    if (value === undefined) continue;
    let resolved: URL;
    try {
      resolved = new URL(value, `http://${host}${path}`);
    } catch {
      continue;
    }
    if (resolved.host.toLowerCase() === host) {
      const key = host + resolved.pathname + resolved.search;
      if (!keys.includes(key)) keys.push(key);
    }
  }
  return keys;
}
