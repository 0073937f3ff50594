/**
 * Cache-Status values (RFC 9211). The tier that answered goes in `detail` (l1, l2); a
 * forwarded request names why in `fwd` and, where there is one, the reason in `detail`.
 */
export type ForwardReason = 'bypass' | 'method' | 'uri-miss' | 'vary-miss' | 'miss' | 'request' | 'stale' | 'partial';

/** `<name>; hit; detail=<tier>; ttl=<seconds>` (§2.1, §2.6, §2.8). ttl is negative when stale. */
export function hitStatus(name: string, tier: string, ttlSeconds: number, extra?: string): string {
  return `${name}; hit; detail=${tier}; ttl=${ttlSeconds}${extra ? `; ${extra}` : ''}`;
}

export interface ForwardStatus {
  fwd: ForwardReason;
  fwdStatus?: number;
  stored?: boolean;
  collapsed?: boolean;
  ttlSeconds?: number;
  /** A token (§2.8): why the request was forwarded or not stored, or what went wrong. */
  detail?: string;
}

/** `<name>; fwd=<reason>; fwd-status=<code>; stored; collapsed; ttl=…; detail=…` (§2.2–§2.8). */
export function forwardStatus(name: string, s: ForwardStatus): string {
  let out = `${name}; fwd=${s.fwd}`;
  if (s.fwdStatus !== undefined) out += `; fwd-status=${s.fwdStatus}`;
  if (s.stored) out += '; stored';
  if (s.collapsed) out += '; collapsed';
  if (s.ttlSeconds !== undefined) out += `; ttl=${s.ttlSeconds}`;
  if (s.detail) out += `; detail=${s.detail}`;
  return out;
}
