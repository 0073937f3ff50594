import { parseRange } from './range';

/**
 * Partial content in a cache (RFC 9111 §3.3, §3.4): a stored 206 holds one contiguous span of a
 * representation whose complete length is known.
 */
export interface Part {
  /** First byte held. */
  start: number;
  /** Bytes held: start..start+body.length-1. */
  body: Buffer;
  /** The representation's complete length (Content-Range's complete-length). */
  complete: number;
}

/** `bytes first-last/complete` (RFC 9110 §14.4); null for `*` lengths, other units or nonsense. */
export function parseContentRange(value: string | undefined): { start: number; end: number; complete: number } | null {
  if (value === undefined) return null;
  const m = /^\s*bytes\s+(\d{1,15})-(\d{1,15})\/(\d{1,15})\s*$/i.exec(value);
  if (m === null) return null;
  const start = Number(m[1]), end = Number(m[2]), complete = Number(m[3]);
  return start <= end && end < complete ? { start, end, complete } : null;
}

/**
 * The part a 206 response actually holds. §3.3: a cache "can store the response, even if it is
 * incomplete": a body shorter than its Content-Range holds the bytes that came, from `first` on.
 * A body longer than the range it claims, or an empty one, is not a part of anything.
 */
export function receivedPart(contentRange: string | undefined, body: Buffer): Part | null {
  const r = parseContentRange(contentRange);
  if (r === null || body.length === 0 || body.length > r.end - r.start + 1) return null;
  return { start: r.start, body, complete: r.complete };
}

/**
 * The bytes of a Range request a stored part can answer. §3.3: a cache "MUST NOT use an incomplete
 * response to answer requests unless ... the request is partial and specifies a range wholly within
 * the incomplete response". Null when it cannot (the origin is asked instead).
 */
export function rangeFromPart(rangeHeader: string, part: Part): { start: number; end: number } | null {
  const r = parseRange(rangeHeader, part.complete);
  if (r === null || r === 'unsatisfiable') return null;
  const last = part.start + part.body.length - 1;
  return r.start >= part.start && r.end <= last ? r : null;
}

/**
 * Two parts of the same representation as one, when they overlap or touch; null when they are of
 * different lengths or leave a gap (the newer part is then kept alone). §3.4: only responses with
 * the same strong validator are parts of the same representation (strongValidatorsMatch).
 */
export function combineParts(a: Part, b: Part): Part | null {
  if (a.complete !== b.complete) return null;
  const [lo, hi] = a.start <= b.start ? [a, b] : [b, a];
  const loEnd = lo.start + lo.body.length;
  if (hi.start > loEnd) return null;
  const hiEnd = hi.start + hi.body.length;
  if (hiEnd <= loEnd) return lo;
  return { start: lo.start, body: Buffer.concat([lo.body, hi.body.subarray(loEnd - hi.start)]), complete: a.complete };
}

/** Whether a part holds the whole representation (§3.4: combined into a complete response). */
export function isWhole(p: Part): boolean {
  return p.start === 0 && p.body.length === p.complete;
}

/** RFC 9111 §3.4 via RFC 9110 §8.8.1: both carry the same strong entity tag. */
export function strongValidatorsMatch(a: string | undefined, b: string | undefined): boolean {
  return a !== undefined && b !== undefined && !a.startsWith('W/') && a === b;
}
