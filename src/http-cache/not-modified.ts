import { connectionTokens, isHopByHop, NOT_UPDATED_BY_304, ResponseFields } from './headers';

/**
 * The stored response's fields updated by a 304 (RFC 9111 §4.3.4): every field the 304 carries
 * replaces the stored one, except those describing the stored body (§3.2), the 304's own
 * hop-by-hop fields, and Set-Cookie (one client's session must not enter the shared object).
 */
export function mergeNotModified(stored: ResponseFields, notModified: ResponseFields): ResponseFields {
  const fields: ResponseFields = { ...stored };
  const extra = connectionTokens(notModified.connection);
  for (const name in notModified) {
    if (NOT_UPDATED_BY_304.has(name) || isHopByHop(name, extra) || name === 'set-cookie') continue;
    fields[name] = notModified[name];
  }
  return fields;
}
