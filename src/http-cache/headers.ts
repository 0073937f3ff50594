/** Hop-by-hop fields (RFC 9110 §7.6.1), plus the proxy ones that never cross Tiercel. */
export const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

/** The extra fields a Connection header names as hop-by-hop (RFC 9110 §7.6.1). */
export function connectionTokens(connection: string | string[] | undefined): Set<string> | null {
  if (connection === undefined) return null;
  const text = Array.isArray(connection) ? connection.join(',') : connection;
  const tokens = new Set<string>();
  for (const t of text.split(',')) {
    const name = t.trim().toLowerCase();
    if (name && name !== 'close' && name !== 'keep-alive') tokens.add(name);
  }
  return tokens.size ? tokens : null;
}

export function isHopByHop(name: string, extra: Set<string> | null): boolean {
  return HOP_BY_HOP.has(name) || (extra !== null && extra.has(name));
}

/**
 * Response fields that a 304 must not overwrite in the stored response (RFC 9111 §3.2):
 * they describe the stored body, not the validation. Content-MD5 (RFC 1864) and Content-Digest
 * (RFC 9530 §2) are checksums of the stored bytes; §3.2 lets a cache keep the fields that
 * "assure integrity of the stored response", and a replaced digest would no longer match them.
 */
export const NOT_UPDATED_BY_304 = new Set(['content-length', 'content-encoding', 'content-range', 'transfer-encoding', 'content-md5', 'content-digest']);

/** Fields a 304 carries (RFC 9110 §15.4.5), plus what Tiercel itself adds. */
export const KEPT_IN_304 = new Set([
  'cache-control', 'content-location', 'date', 'etag', 'expires', 'vary', 'last-modified', 'via',
]);

/** Response fields as undici and node:http give them: lower-case names, repeated fields as arrays. */
export type ResponseFields = Record<string, string | string[] | undefined>;

export function firstValue(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}
