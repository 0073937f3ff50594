/**
 * Cache-Status values (RFC 9211). The tier that answered goes in `detail` (l1, l2); a
 * forwarded request names why in `fwd` and, where there is one, the reason in `detail`.
 */
export type ForwardReason = 'bypass' | 'method' | 'uri-miss' | 'vary-miss' | 'miss' | 'request' | 'stale' | 'partial';

/** `<name>; hit; detail=<tier>; ttl=<seconds>` (§2.1, §2.6, §2.8). ttl is negative when stale. */
export function hitStatus(name: string, tier: string, ttlSeconds: number, extra?: string): string {
  return `${name}; hit; detail=${tier}; ttl=${ttlSeconds}${extra ? `; ${extra}` : ''}`;
}

/**
 * hitStatus for one cache name, remembered by tier and TTL: under load the same few values are
 * sent thousands of times a second, so a hit reuses the string (already flat, ready to write)
 * instead of building one. Direct-mapped: a TTL that collides simply builds its value again.
 */
export class HitStatusCache {
  private readonly ttls = new Float64Array(2 * 1024).fill(Number.NaN);
  private readonly values: string[] = new Array<string>(2 * 1024).fill('');

  constructor(private readonly name: string) {}

  of(tier: 'l1' | 'l2', ttlSeconds: number): string {
    const i = (tier === 'l1' ? 0 : 1024) + (ttlSeconds & 1023);
    if (this.ttls[i] === ttlSeconds) return this.values[i]!;
    const v = hitStatus(this.name, tier, ttlSeconds);
    this.ttls[i] = ttlSeconds;
    this.values[i] = v;
    return v;
  }
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
