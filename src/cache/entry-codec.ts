import { parseContentRange, receivedPart } from '../http-cache/partial';
import type { CacheEntry } from './cache-entry';
import { CachedResponse, headerBytes } from './cached-response';
import { VaryIndex } from './vary-index';

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

/** `slots`: the per-delivery header slots (Age, Cache-Status, ...) ending a stored list; not written. */
export function encodeEntry(entry: CacheEntry, slots: readonly string[]): Buffer {
  let meta: ResponseMeta | VaryMeta;
  let body: Buffer | null = null;
  if (entry.kind === 'response') {
    meta = {
      s: entry.status,
      h: entry.headers.slice(0, entry.headers.length - slots.length),
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

/** RFC 9110 §5.1: a field name is a token. */
const FIELD_NAME = /^[!#$%&'*+\-.^_`|~0-9a-z]+$/;
/** RFC 9110 §5.5: field values are visible characters, spaces and tabs, and obs-text; never CR, LF or NUL. */
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;
const MAX_HEADER_FIELDS = 500;

const isTime = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v >= 0;
const isMs = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const optionalString = (v: unknown): v is string | undefined => v === undefined || (typeof v === 'string' && FIELD_VALUE.test(v));
function validPart(h: readonly string[], body: Buffer): boolean {
  const i = h.indexOf('content-range');
  if (i === -1 || i % 2 !== 0 || h.indexOf('content-range', i + 1) !== -1) return false;
  const p = receivedPart(h[i + 1], body);
  return p !== null && parseContentRange(h[i + 1])!.end === p.start + body.length - 1;
}

const names = (v: unknown): v is string[] => Array.isArray(v) && v.length <= 64 && v.every((n) => typeof n === 'string' && FIELD_NAME.test(n));
const tags = (v: unknown): v is string[] => Array.isArray(v) && v.every((n) => typeof n === 'string');

/** A stored header list as Tiercel writes it: name/value pairs of valid fields, Content-Length matching the body. */
function validHeaders(h: unknown, bodyLength: number): h is string[] {
  if (!Array.isArray(h) || h.length % 2 !== 0 || h.length > MAX_HEADER_FIELDS * 2) return false;
  let lengthSeen = false;
  for (let i = 0; i < h.length; i += 2) {
    const name = h[i];
    const value = h[i + 1];
    if (typeof name !== 'string' || typeof value !== 'string' || !FIELD_NAME.test(name) || !FIELD_VALUE.test(value)) return false;
    if (name === 'content-length') {
      if (lengthSeen || value !== String(bodyLength)) return false;
      lengthSeen = true;
    }
    if (name === 'transfer-encoding' || name === 'connection') return false;
  }
  return lengthSeen;
}

/**
 * Decodes an entry; null for anything that is not a well-formed entry of this version. Every
 * field is checked, as anyone who can write to Redis can write here: the status is a final
 * status code, the header list is pairs of valid field names and values (no CR, LF or NUL), its
 * Content-Length is the body's length, and the times are numbers.
 */
export function decodeEntry(buf: Buffer, slots: readonly string[]): CacheEntry | null {
  if (buf.length < PREFIX || buf[0] !== MAGIC_0 || buf[1] !== MAGIC_1 || buf[2] !== VERSION) return null;
  const metaLength = buf.readUInt32BE(4);
  if (PREFIX + metaLength > buf.length) return null;
  let meta: unknown;
  try {
    meta = JSON.parse(buf.toString('utf8', PREFIX, PREFIX + metaLength));
  } catch {
    return null;
  }
  if (meta === null || typeof meta !== 'object' || Array.isArray(meta)) return null;
  if (buf[3] === KIND_VARY) {
    const m = meta as Partial<VaryMeta>;
    if (!names(m.n) || m.n.length === 0 || buf.length !== PREFIX + metaLength) return null;
    const index: VaryIndex = { kind: 'vary', names: m.n, size: 64 + metaLength };
    return index;
  }
  if (buf[3] !== KIND_RESPONSE) return null;
  const m = meta as Partial<ResponseMeta>;
  const body = buf.subarray(PREFIX + metaLength);
  if (!Number.isInteger(m.s) || m.s! < 200 || m.s! > 599) return null;
  if (!validHeaders(m.h, body.length)) return null;
  // A stored part (RFC 9111 §3.3) names the bytes it holds; one whose Content-Range disagrees with its body is refused.
  if (m.s === 206 && !validPart(m.h, body)) return null;
  if (!isTime(m.rq) || !isTime(m.rs) || !isMs(m.ia) || !isMs(m.lt) || !isMs(m.swr) || !isMs(m.sie)) return null;
  if (!optionalString(m.e) || !optionalString(m.lm) || !optionalString(m.d)) return null;
  if (m.v !== undefined && !names(m.v)) return null;
  if (m.t !== undefined && !tags(m.t)) return null;
  const headers = m.h.concat(slots);
  const response: CachedResponse = {
    kind: 'response',
    status: m.s!,
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
