import type { CacheControl } from '../http-cache/cache-control';
import { correctedInitialAge, Freshness } from '../http-cache/freshness';
import { connectionTokens, firstValue, isHopByHop, ResponseFields } from '../http-cache/headers';
import { Part, receivedPart } from '../http-cache/partial';
import type { StoredFreshness } from '../http-cache/reuse';

/**
 * A stored response, kept in the form Tiercel writes it: a hit is one writeHead with the
 * precomputed header list, whose last slots (Age, Cache-Status, ...) are filled per delivery,
 * and one write of the body.
 */
export interface CachedResponse extends StoredFreshness {
  readonly kind: 'response';
  status: number;
  /** Flat [name, value, name, value…] list, as delivered, ending with the delivery slots. */
  headers: string[];
  body: Buffer;
  etag: string | undefined;
  lastModified: string | undefined;
  date: string | undefined;
  requestTime: number;
  staleIfErrorMs: number;
  /** Lower-case Vary field names; empty when the response does not vary. */
  varyNames: readonly string[];
  /** Surrogate keys from Surrogate-Key / Cache-Tag, for tag invalidation. */
  tags: readonly string[];
  /** Bytes counted against the tier's capacity: headers and body. */
  size: number;
}

export interface StoreOptions {
  via: string | null;
  /** The per-delivery slots ending every stored header list (deliverySlots()). */
  slots: readonly string[];
  stripSetCookie: boolean;
  /** Surrogate-Key and Cache-Tag are for Tiercel's invalidation, not for clients. */
  stripTags: boolean;
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
export function deliverySlots(d: DeliveryHeaders): string[] {
  const t = ['age', '0', 'cache-status', ''];
  if (d.xCache) t.push('x-cache', 'HIT');
  if (d.serverTiming) t.push('server-timing', '');
  return t;
}

/**
 * The header list a stored object is delivered with: the origin's end-to-end fields, Via,
 * Content-Length for the stored body, then the delivery slots.
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
  out.push(...opts.slots);
  return out;
}

/** Back from a stored header list to fields, for a 304 to update (RFC 9111 §4.3.4). */
export function storedFields(headers: readonly string[], slotsLength: number): ResponseFields {
  const fields: ResponseFields = {};
  const end = headers.length - slotsLength;
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

const seconds = (v: number | undefined) => (v === undefined || Number.isNaN(v) ? 0 : v) * 1000;

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
    staleWhileRevalidateMs: seconds(i.cc.staleWhileRevalidate),
    staleIfErrorMs: seconds(i.cc.staleIfError),
    noCache: i.cc.noCache,
    // RFC 9111 §5.2.2.2, §5.2.2.8, §5.2.2.10: these forbid serving stale in a shared cache.
    forbidStale: i.cc.mustRevalidate || i.cc.proxyRevalidate || i.cc.sMaxage !== undefined,
    varyNames: i.varyNames,
    tags: i.tags,
    size: i.body.length + headerBytes(headers) + 256,
  };
}

/** A soft-invalidated response: stale from `at` on, so it is revalidated before use (or served within its stale windows). */
export function markedStale(entry: CachedResponse, at: number): CachedResponse {
  const ageThen = entry.initialAgeMs + (at - entry.responseTime);
  return entry.lifetimeMs <= ageThen ? entry : { ...entry, lifetimeMs: Math.max(0, ageThen) };
}

export function headerBytes(headers: readonly string[]): number {
  let n = 0;
  for (const h of headers) n += h.length + 2;
  return n;
}

/** How long an object may be used at all from `now`: what is left of its freshness, plus its stale windows. */
export function usableMs(obj: CachedResponse, now: number): number {
  const age = obj.initialAgeMs + (now - obj.responseTime);
  return obj.lifetimeMs - age + Math.max(obj.staleWhileRevalidateMs, obj.staleIfErrorMs);
}

/** How long an object with validators is kept at least after it is stored: a 304 revives it. */
export const VALIDATOR_RETENTION_MS = 5 * 60_000;

export function hasValidator(obj: CachedResponse): boolean {
  return obj.etag !== undefined || obj.lastModified !== undefined;
}

/** The part a stored 206 holds (RFC 9111 §3.3), from its stored Content-Range; null for any other object. */
export function storedPart(obj: CachedResponse): Part | null {
  if (obj.status !== 206) return null;
  for (let i = 0; i < obj.headers.length; i += 2) if (obj.headers[i] === 'content-range') return receivedPart(obj.headers[i + 1], obj.body);
  return null;
}
