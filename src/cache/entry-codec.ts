import type { CacheEntry, CachedResponse, VaryIndex } from './cache-entry';
import { headerBytes } from './cache-entry';

/**
 * The L2 entry format: a fixed 12-byte prefix, a small JSON header with everything another
 * instance needs to compute freshness and Age, then the body bytes as they are.
 *
 *   0  'T' 'C'           magic
 *   2  u8                format version (1)
 *   3  u8                kind: 1 response, 2 vary index
 *   4  u32 BE            header length N
 *   8  u32 BE            reserved (0)
 *  12  N bytes           header, UTF-8 JSON
 *  12+N                  body
 *
 * The body is never JSON-encoded or base64: a decoded body is a view into the Redis reply.
 */
const MAGIC_0 = 0x54; // T
const MAGIC_1 = 0x43; // C
const VERSION = 1;
const KIND_RESPONSE = 1;
const KIND_VARY = 2;
const PREFIX = 12;

interface ResponseMeta {
  s: number; // status
  h: string[]; // stored headers without the per-delivery trailer
  e?: string; // etag
  lm?: string; // last-modified
  d?: string; // date
  rq: number; // request time, ms since epoch
  rs: number; // response time
  ia: number; // corrected initial age, ms
  lt: number; // freshness lifetime, ms
  swr: number;
  sie: number;
  nc: 0 | 1; // no-cache
  fs: 0 | 1; // forbid stale
  v: readonly string[]; // vary names
  t: readonly string[]; // tags
}

interface VaryMeta {
  n: readonly string[];
}

/** `trailer` is how many per-delivery header slots (Age, Cache-Status, X-Cache) end a stored list. */
export function encodeEntry(entry: CacheEntry, trailer: string[]): Buffer {
  let meta: ResponseMeta | VaryMeta;
  let body: Buffer | null = null;
  if (entry.kind === 'response') {
    meta = {
      s: entry.status,
      h: entry.headers.slice(0, entry.headers.length - trailer.length),
      e: entry.etag,
      lm: entry.lastModified,
      d: entry.date,
      rq: entry.requestTime,
      rs: entry.responseTime,
      ia: entry.initialAgeMs,
      lt: entry.lifetimeMs,
      swr: entry.staleWhileRevalidateMs,
      sie: entry.staleIfErrorMs,
      nc: entry.noCache ? 1 : 0,
      fs: entry.forbidStale ? 1 : 0,
      v: entry.varyNames,
      t: entry.tags,
    };
    body = entry.body;
  } else {
    meta = { n: entry.names };
  }
  const json = Buffer.from(JSON.stringify(meta));
  const out = Buffer.allocUnsafe(PREFIX + json.length + (body?.length ?? 0));
  out[0] = MAGIC_0;
  out[1] = MAGIC_1;
  out[2] = VERSION;
  out[3] = entry.kind === 'response' ? KIND_RESPONSE : KIND_VARY;
  out.writeUInt32BE(json.length, 4);
  out.writeUInt32BE(0, 8);
  json.copy(out, PREFIX);
  if (body) body.copy(out, PREFIX + json.length);
  return out;
}

/** Decodes an entry; null for anything that is not a well-formed entry of this version. */
export function decodeEntry(buf: Buffer, trailer: readonly string[]): CacheEntry | null {
  if (buf.length < PREFIX || buf[0] !== MAGIC_0 || buf[1] !== MAGIC_1 || buf[2] !== VERSION) return null;
  const metaLength = buf.readUInt32BE(4);
  if (PREFIX + metaLength > buf.length) return null;
  let meta: unknown;
  try {
    meta = JSON.parse(buf.toString('utf8', PREFIX, PREFIX + metaLength));
  } catch {
    return null;
  }
  if (buf[3] === KIND_VARY) {
    const m = meta as VaryMeta;
    if (!Array.isArray(m.n)) return null;
    const index: VaryIndex = { kind: 'vary', names: m.n, size: 64 + metaLength };
    return index;
  }
  if (buf[3] !== KIND_RESPONSE) return null;
  const m = meta as ResponseMeta;
  if (typeof m.s !== 'number' || !Array.isArray(m.h) || typeof m.rs !== 'number') return null;
  const headers = m.h.concat(trailer);
  const body = buf.subarray(PREFIX + metaLength);
  const response: CachedResponse = {
    kind: 'response',
    status: m.s,
    headers,
    body,
    etag: m.e,
    lastModified: m.lm,
    date: m.d,
    requestTime: m.rq,
    responseTime: m.rs,
    initialAgeMs: m.ia,
    lifetimeMs: m.lt,
    staleWhileRevalidateMs: m.swr,
    staleIfErrorMs: m.sie,
    noCache: m.nc === 1,
    forbidStale: m.fs === 1,
    varyNames: m.v ?? [],
    tags: m.t ?? [],
    size: body.length + headerBytes(headers) + 256,
  };
  return response;
}
