import type { IncomingHttpHeaders } from 'node:http';

/**
 * Vary handling (RFC 9111 §4.1).
 * Field names are compared case-insensitively; values after combining repeated lines and
 * normalising whitespace, which §4.1 allows.
 */
export interface ParsedVary {
  star: boolean;
  /** Lower-case, de-duplicated, sorted so equal Vary lists key equally. */
  names: string[];
}

export function parseVary(header: string | string[] | undefined): ParsedVary {
  if (header === undefined) return { star: false, names: [] };
  const text = Array.isArray(header) ? header.join(',') : header;
  const names = new Set<string>();
  for (const raw of text.split(',')) {
    const name = raw.trim().toLowerCase();
    if (name === '*') return { star: true, names: [] };
    if (name) names.add(name);
  }
  return { star: false, names: [...names].sort() };
}

/**
 * Accept-Encoding collapsed to the one coding Tiercel would pick, so the many spellings browsers
 * send (`gzip, deflate, br, zstd`, `br;q=1.0, gzip;q=0.8`) share one variant.
 */
export function normalizeAcceptEncoding(value: string | string[] | undefined): string {
  if (value === undefined) return '';
  const text = Array.isArray(value) ? value.join(',') : value;
  // RFC 9110 §12.5.3: q=0 refuses a coding; `*` stands for codings not listed, never for a refused one.
  const accepted = new Set<string>();
  const refused = new Set<string>();
  let star = false;
  for (const item of text.split(',')) {
    const [rawCoding, ...params] = item.toLowerCase().split(';');
    const coding = rawCoding!.trim();
    if (!coding) continue;
    const zero = params.some((p) => /^\s*q\s*=\s*0(\.0*)?\s*$/.test(p));
    const name = coding === 'x-gzip' ? 'gzip' : coding;
    if (zero) refused.add(name);
    else if (name === '*') star = true;
    else accepted.add(name);
  }
  // `*` is read as gzip only: every origin that compresses speaks gzip, not every one speaks br.
  if (accepted.has('br') && !refused.has('br')) return 'br';
  if (!refused.has('gzip') && (accepted.has('gzip') || star)) return 'gzip';
  return '';
}

/** Fields whose values are case-insensitive throughout: language ranges (RFC 9110 §12.5.4, RFC 4647 §2.1). */
const CASE_INSENSITIVE_VALUES = new Set(['accept-language']);

function normalizeValue(name: string, value: string | string[] | undefined): string {
  if (name === 'accept-encoding') return normalizeAcceptEncoding(value);
  if (value === undefined) return '';
  const text = Array.isArray(value) ? value.join(', ') : value;
  const out = text.trim().replace(/\s*,\s*/g, ', ').replace(/\s+/g, ' ');
  return CASE_INSENSITIVE_VALUES.has(name) ? out.toLowerCase() : out;
}

/** The part of a cache key that selects a variant: the request's values of each Vary field. */
export function varySelector(names: readonly string[], headers: IncomingHttpHeaders): string {
  let out = '';
  for (const name of names) {
    // A missing field and an empty one are different requests (§4.1): mark absence explicitly.
    const value = headers[name];
    // Accept-Encoding is normalised and forwarded normalised, so absent and `identity` are one variant.
    out += value === undefined && name !== 'accept-encoding' ? `${name}\u0000` : `${name}=${normalizeValue(name, value)}\u0000`;
  }
  return out;
}
