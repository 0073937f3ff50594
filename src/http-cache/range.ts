import { parseHttpDate } from './http-date';

export type RangeResult = { start: number; end: number } | 'unsatisfiable' | null;

/**
 * A single `bytes=` range against a stored body (RFC 9110 §14.1.2). Multiple ranges and
 * other units return null: the full 200 is a valid answer to them (§14.2).
 */
export function parseRange(header: string, length: number): RangeResult {
  const m = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(header);
  if (!m || (m[1] === '' && m[2] === '')) return null;
  if (m[1] === '') {
    const suffix = Number(m[2]);
    if (suffix === 0) return 'unsatisfiable';
    // Satisfiable on an empty representation (§14.1.1) but with no bytes to name: the full 200 answers it.
    if (length === 0) return null;
    return { start: Math.max(0, length - suffix), end: length - 1 };
  }
  const start = Number(m[1]);
  const end = m[2] === '' ? length - 1 : Math.min(Number(m[2]), length - 1);
  if (m[2] !== '' && Number(m[2]) < start) return null; // invalid: ignore the header (§14.1.1)
  if (start >= length) return 'unsatisfiable';
  return { start, end };
}

/** If-Range (RFC 9110 §13.1.5): the range applies only if the validator still matches, strongly. */
export function ifRangeMatches(header: string | undefined, etag: string | undefined, lastModified: string | undefined): boolean {
  if (header === undefined) return true;
  const v = header.trim();
  if (v.startsWith('"') || v.startsWith('W/')) return etag !== undefined && !v.startsWith('W/') && !etag.startsWith('W/') && v === etag;
  const since = parseHttpDate(v);
  const modified = parseHttpDate(lastModified);
  return !Number.isNaN(since) && !Number.isNaN(modified) && since === modified;
}
