import type { IncomingMessage } from 'node:http';
import type { CachedResponse } from '../cache/cached-response';
import type { TiercelConfig } from '../config/config';
import { surrogateCapability } from '../http-cache/surrogate-control';
import { connectionTokens, firstValue, isHopByHop, KEPT_IN_304, ResponseFields } from '../http-cache/headers';
import { normalizeAcceptEncoding } from '../http-cache/vary';

/** Request fields Tiercel sets itself or that make no sense upstream. */
const REQUEST_FIELDS_REPLACED = new Set(['host', 'expect', 'x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'forwarded']);
const CONDITIONAL_FIELDS = new Set(['if-none-match', 'if-modified-since', 'if-range']);

export interface HeaderPolicy {
  /** `1.1 <name>` when Via is added (PROXY_ADD_VIA). */
  via: string | null;
  addForwarded: boolean;
  /** Reverse mode with PROXY_PRESERVE_HOST: the client's Host goes upstream. */
  preserveHost: boolean;
  /** Our Surrogate-Capability entry, in reverse mode. */
  surrogate: string | null;
  xCache: boolean;
  stripTags: boolean;
}

export function headerPolicy(config: TiercelConfig, reverse: boolean): HeaderPolicy {
  return {
    via: config.proxy.addVia ? `1.1 ${config.cache.name}` : null,
    addForwarded: config.proxy.addForwarded,
    preserveHost: reverse && config.proxy.preserveHost,
    // In reverse mode Tiercel acts for the origin as its surrogate.
    surrogate: reverse ? surrogateCapability(config.cache.name) : null,
    xCache: config.cache.xCacheHeader,
    stripTags: config.invalidation.stripTagHeaders,
  };
}

export interface UpstreamRequest {
  req: IncomingMessage;
  /** The Host the origin is asked for when the client's is not preserved. */
  targetHost: string;
  /** A cacheable fetch asks for the whole object; the client's conditions are answered by Tiercel. */
  cacheable: boolean;
  /** The stored object being validated: its validators go upstream. */
  validate: CachedResponse | undefined;
  /** A traced request sends its own traceparent (the CLIENT span's) instead of the client's. */
  traced: boolean;
  /** The client is in TRUSTED_PROXIES: its X-Forwarded-* and Forwarded fields are kept and extended. */
  trusted: boolean;
  /** The authority the client asked for: its Host in reverse mode, the absolute URL's in forward mode. */
  authority: string;
}

/** The request as the origin sees it: end-to-end fields, X-Forwarded-*, Via, Surrogate-Capability and our validators. */
export function upstreamHeaders(u: UpstreamRequest, p: HeaderPolicy): string[] {
  const { req, cacheable } = u;
  const raw = req.rawHeaders;
  const extra = connectionTokens(req.headers.connection);
  const out: string[] = [];
  let via: string | undefined;
  let capability: string | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    // HTTP/2 pseudo-header fields (RFC 9113 §8.3) are the request line, not fields to forward.
    if (name.charCodeAt(0) === 58 /* : */ || isHopByHop(name, extra) || REQUEST_FIELDS_REPLACED.has(name)) continue;
    if (cacheable && (CONDITIONAL_FIELDS.has(name) || name === 'accept-encoding')) continue;
    if (name === 'via') { via = via ? `${via}, ${raw[i + 1]}` : raw[i + 1]; continue; }
    if (u.traced && (name === 'traceparent' || name === 'tracestate')) continue;
    if (name === 'surrogate-capability' && p.surrogate !== null) { capability = capability ? `${capability}, ${raw[i + 1]}` : raw[i + 1]; continue; }
    out.push(raw[i]!, raw[i + 1]!);
  }
  // The origin is asked for exactly the authority the cache key holds (lower-cased, no default
  // port): a Host spelled differently must not make it render another page under the same key.
  out.push('host', p.preserveHost && u.authority ? u.authority : u.targetHost);
  if (cacheable) {
    // The forwarded Accept-Encoding is the normalised one, so the stored variant matches its key.
    const ae = normalizeAcceptEncoding(req.headers['accept-encoding']);
    if (ae) out.push('accept-encoding', ae);
  }
  const stale = u.validate;
  if (stale !== undefined) {
    if (stale.etag !== undefined) out.push('if-none-match', stale.etag);
    if (stale.lastModified !== undefined) out.push('if-modified-since', stale.lastModified);
  }
  if (p.addForwarded) {
    // Only a trusted proxy's account of the client is passed on; anyone else's would let one
    // client steer what the origin renders for everyone (an unkeyed input, cached for all).
    const h = req.headers;
    const client = req.socket.remoteAddress ?? '';
    const proto = (req.socket as { encrypted?: boolean }).encrypted === true ? 'https' : 'http';
    const priorFor = u.trusted ? joined(h['x-forwarded-for']) : undefined;
    out.push('x-forwarded-for', priorFor ? `${priorFor}, ${client}` : client);
    out.push('x-forwarded-proto', (u.trusted ? firstValue(h['x-forwarded-proto']) : undefined) ?? proto);
    out.push('x-forwarded-host', (u.trusted ? firstValue(h['x-forwarded-host']) : undefined) ?? u.authority);
    // RFC 7239: the same facts in the standard field.
    const priorForwarded = u.trusted ? joined(h.forwarded) : undefined;
    const ours = `for=${forwardedNode(client)};host=${quoted(u.authority)};proto=${proto}`;
    out.push('forwarded', priorForwarded ? `${priorForwarded}, ${ours}` : ours);
  } else if (u.trusted) {
    for (const name of ['x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'forwarded'] as const) {
      const v = joined(req.headers[name]);
      if (v) out.push(name, v);
    }
  }
  if (p.via) out.push('via', via ? `${via}, ${p.via}` : p.via);
  else if (via) out.push('via', via);
  // Edge Architecture §2.1: each surrogate appends itself, so the origin can target its directives.
  if (p.surrogate !== null) out.push('surrogate-capability', capability ? `${capability}, ${p.surrogate}` : p.surrogate);
  return out;
}

function joined(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v.join(', ') : v;
}

/** RFC 7239 §6: an IPv6 node is quoted and bracketed. */
function forwardedNode(address: string): string {
  return address.includes(':') ? `"[${address}]"` : address || 'unknown';
}

/** RFC 7239 §4: a value that is not a token is a quoted-string. */
function quoted(v: string): string {
  return /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(v) ? v : `"${v.replace(/["\\]/g, (c) => `\\${c}`)}"`;
}

/**
 * The origin's response as the client sees it on a miss or pass: its end-to-end fields, Via,
 * Cache-Status and X-Cache; with `only304`, just the fields a 304 carries (RFC 9110 §15.4.5).
 */
export function clientHeaders(fields: ResponseFields, cacheStatus: string, p: HeaderPolicy, only304: boolean): string[] {
  const extra = connectionTokens(fields.connection);
  const out: string[] = [];
  for (const name in fields) {
    const value = fields[name];
    if (value === undefined || isHopByHop(name, extra) || name === 'x-cache') continue;
    if (only304 && !KEPT_IN_304.has(name)) continue;
    if (p.stripTags && (name === 'surrogate-key' || name === 'cache-tag')) continue;
    if (Array.isArray(value)) for (const v of value) out.push(name, v);
    else out.push(name, value);
  }
  if (p.via) out.push('via', p.via);
  out.push('cache-status', cacheStatus);
  if (p.xCache) out.push('x-cache', 'MISS');
  return out;
}
