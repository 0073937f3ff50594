import { CacheControl } from '../http-cache/cache-control';
import { correctedInitialAge, Freshness } from '../http-cache/freshness';
import { isHopByHop, connectionTokens } from '../http-cache/headers';
import { CachedResponse, headerBytes } from './cache-entry';

export type ResponseFields = Record<string, string | string[] | undefined>;

export interface StoreOptions {
  via: string | null;
  xCacheHeader: boolean;
  /** The per-delivery slots ending every stored header list; by default Age, Cache-Status and X-Cache. */
  trailer?: readonly string[];
  stripSetCookie: boolean;
  /** Surrogate-Key and Cache-Tag are for Tiercel's invalidation, not for clients. */
  stripTags?: boolean;
}

/** Fields Tiercel computes per delivery, or that describe one connection, never stored. */
const NOT_STORED = new Set(['age', 'x-cache', 'content-length', 'date']);

export interface DeliveryHeaders {
  xCache: boolean;
  serverTiming: boolean;
}

/**
 * The slots at the end of every stored header list, filled per delivery: Age and Cache-Status,
 * then X-Cache and Server-Timing as configured. The order is fixed so the request path finds
 * each slot by a constant offset. (traceresponse is not a slot: only sampled requests carry it.)
 */
export function trailerTemplate(d: DeliveryHeaders | boolean): string[] {
  const o = typeof d === 'boolean' ? { xCache: d, serverTiming: false } : d;
  const t = ['age', '0', 'cache-status', ''];
  if (o.xCache) t.push('x-cache', 'HIT');
  if (o.serverTiming) t.push('server-timing', '');
  return t;
}

export function firstValue(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

/**
 * The header list a stored object is delivered with: the origin's end-to-end fields, Via,
 * Content-Length for the stored body, then slots for Age, Cache-Status and X-Cache.
 */
export function storedHeaderList(fields: ResponseFields, bodyLength: number, opts: StoreOptions): string[] {
  const extra = connectionTokens(fields.connection);
  const out: string[] = [];
  for (const name in fields) {
    const value = fields[name];
    if (value === undefined || isHopByHop(name, extra) || NOT_STORED.has(name)) continue;
    if (name === 'set-cookie' && opts.stripSetCookie) continue;
    if (opts.stripTags && (name === 'surrogate-key' || name === 'cache-tag')) continue;
    if (Array.isArray(value)) for (const v of value) out.push(name, v);
    else out.push(name, value);
  }
  // Date is kept as the origin sent it: clients compute freshness from it together with Age.
  const date = firstValue(fields.date);
  if (date !== undefined) out.push('date', date);
  if (opts.via) out.push('via', opts.via);
  out.push('content-length', String(bodyLength));
  out.push(...(opts.trailer ?? trailerTemplate(opts.xCacheHeader)));
  return out;
}

/** Back from a stored header list to fields, for a 304 to update (RFC 9111 §4.3.4). */
export function storedFields(headers: readonly string[], trailerLength: number): ResponseFields {
  const fields: ResponseFields = {};
  const end = headers.length - trailerLength;
  for (let i = 0; i < end; i += 2) {
    const name = headers[i]!;
    if (name === 'via' || name === 'content-length') continue;
    const prev = fields[name];
    fields[name] = prev === undefined ? headers[i + 1]! : Array.isArray(prev) ? [...prev, headers[i + 1]!] : [prev, headers[i + 1]!];
  }
  return fields;
}

export interface CachedResponseInput {
  status: number;
  fields: ResponseFields;
  body: Buffer;
  cc: CacheControl;
  freshness: Freshness;
  varyNames: readonly string[];
  tags: readonly string[];
  requestTime: number;
  responseTime: number;
}

export function createCachedResponse(i: CachedResponseInput, opts: StoreOptions): CachedResponse {
  const headers = storedHeaderList(i.fields, i.body.length, opts);
  return {
    kind: 'response',
    status: i.status,
    headers,
    body: i.body,
    etag: firstValue(i.fields.etag),
    lastModified: firstValue(i.fields['last-modified']),
    date: firstValue(i.fields.date),
    requestTime: i.requestTime,
    responseTime: i.responseTime,
    initialAgeMs: correctedInitialAge(firstValue(i.fields.age), firstValue(i.fields.date), i.requestTime, i.responseTime),
    lifetimeMs: i.freshness.lifetimeMs,
    staleWhileRevalidateMs: (Number.isNaN(i.cc.staleWhileRevalidate ?? 0) ? 0 : (i.cc.staleWhileRevalidate ?? 0)) * 1000,
    staleIfErrorMs: (Number.isNaN(i.cc.staleIfError ?? 0) ? 0 : (i.cc.staleIfError ?? 0)) * 1000,
    noCache: i.cc.noCache,
    // RFC 9111 §5.2.2.2, §5.2.2.8, §5.2.2.10: these forbid serving stale in a shared cache.
    forbidStale: i.cc.mustRevalidate || i.cc.proxyRevalidate || i.cc.sMaxage !== undefined,
    varyNames: i.varyNames,
    tags: i.tags,
    size: i.body.length + headerBytes(headers) + 256,
  };
}
