import { isIP } from 'node:net';

/** Thrown for a bad configuration value; main prints its message as one line and exits. */
export class ConfigError extends Error {
  constructor(name: string, value: string, accepted: string) {
    super(`invalid ${name}=${JSON.stringify(value)}: expected ${accepted}`);
    this.name = 'ConfigError';
  }
}

const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/;
const DURATION_UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Parses `300`, `300s`, `5m`, `1h`, `250ms` into milliseconds. A bare number is seconds. */
export function parseDuration(name: string, raw: string): number {
  const m = DURATION.exec(raw.trim());
  if (!m) throw new ConfigError(name, raw, 'a duration such as 300, 300s, 5m, 1h or 250ms');
  return Math.round(Number(m[1]) * DURATION_UNIT_MS[m[2] ?? 's']!);
}

const SIZE = /^(\d+(?:\.\d+)?)\s*(b|k|kb|kib|m|mb|mib|g|gb|gib)?$/i;
const SIZE_UNIT: Record<string, number> = { b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };

/** Parses `1048576`, `512k`, `10MB`, `1GiB` into bytes (binary multiples). */
export function parseSize(name: string, raw: string): number {
  const m = SIZE.exec(raw.trim());
  if (!m) throw new ConfigError(name, raw, 'a size in bytes such as 1048576, 512k, 10m or 1g');
  const unit = (m[2] ?? 'b').toLowerCase()[0]!;
  return Math.floor(Number(m[1]) * SIZE_UNIT[unit]!);
}

export function parseBool(name: string, raw: string): boolean {
  const v = raw.trim().toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(v)) return true;
  if (['0', 'false', 'no', 'off'].includes(v)) return false;
  throw new ConfigError(name, raw, 'true or false');
}

export function parseInteger(name: string, raw: string, min: number, max: number): number {
  const v = raw.trim();
  if (!/^\d+$/.test(v) || Number(v) < min || Number(v) > max) {
    throw new ConfigError(name, raw, `an integer from ${min} to ${max}`);
  }
  return Number(v);
}

export function parsePort(name: string, raw: string): number {
  return parseInteger(name, raw, 0, 65535);
}

export function parseHttpUrl(name: string, raw: string): URL {
  let url: URL;
  try {
    url = new URL(raw.trim());
  } catch {
    throw new ConfigError(name, raw, 'an absolute http:// or https:// URL such as http://127.0.0.1:3000');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ConfigError(name, raw, 'an absolute http:// or https:// URL such as http://127.0.0.1:3000');
  }
  return url;
}

/** A listen address: an IP literal or a host name. */
export function parseHost(name: string, raw: string): string {
  const v = raw.trim();
  if (isIP(v) === 0 && !/^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/.test(v)) {
    throw new ConfigError(name, raw, 'an IP address or host name such as 127.0.0.1, :: or localhost');
  }
  return v;
}

export function parseEnum<T extends string>(name: string, raw: string, allowed: readonly T[]): T {
  const v = raw.trim().toLowerCase() as T;
  if (!allowed.includes(v)) throw new ConfigError(name, raw, `one of ${allowed.join(', ')}`);
  return v;
}

/** A compiled CIDR list: matching is a handful of integer comparisons, no allocation. */
export interface CidrList {
  readonly source: string;
  /** No range at all: nothing is contained, and a caller need not even read the address. */
  readonly empty: boolean;
  contains(address: string | undefined): boolean;
}

interface CidrRange {
  v6: boolean;
  words: Uint32Array; // 1 word for IPv4, 4 for IPv6
  prefix: number;
}

function ipv4Words(addr: string): Uint32Array {
  const parts = addr.split('.').map(Number);
  return Uint32Array.of((((parts[0]! << 24) | (parts[1]! << 16) | (parts[2]! << 8) | parts[3]!) >>> 0));
}

function ipv6Words(addr: string): Uint32Array {
  // A dotted IPv4 tail (::ffff:10.0.0.1) becomes its two 16-bit groups first.
  const lastColon = addr.lastIndexOf(':');
  if (addr.includes('.', lastColon)) {
    const v4 = ipv4Words(addr.slice(lastColon + 1))[0]!;
    addr = `${addr.slice(0, lastColon + 1)}${(v4 >>> 16).toString(16)}:${(v4 & 0xffff).toString(16)}`;
  }
  const gap = addr.indexOf('::');
  const left = (gap === -1 ? addr : addr.slice(0, gap)).split(':').filter(Boolean);
  const right = gap === -1 ? [] : addr.slice(gap + 2).split(':').filter(Boolean);
  const groups = [...left, ...new Array<string>(8 - left.length - right.length).fill('0'), ...right].map((g) => parseInt(g, 16));
  const words = new Uint32Array(4);
  for (let i = 0; i < 4; i++) words[i] = ((groups[2 * i]! << 16) | groups[2 * i + 1]!) >>> 0;
  return words;
}

function matches(range: CidrRange, words: Uint32Array): boolean {
  let bits = range.prefix;
  for (let i = 0; i < range.words.length; i++) {
    if (bits <= 0) return true;
    const mask = bits >= 32 ? 0xffffffff : (0xffffffff << (32 - bits)) >>> 0;
    if (((words[i]! & mask) >>> 0) !== ((range.words[i]! & mask) >>> 0)) return false;
    bits -= 32;
  }
  return true;
}

/** Parses `127.0.0.1/32,::1/128,10.0.0.0/8`; `*` allows everyone, an empty value no one. */
export function parseCidrList(name: string, raw: string): CidrList {
  const accepted = 'a comma-separated list of CIDR ranges such as 127.0.0.0/8,::1/128 (or * for any)';
  const source = raw.trim();
  if (source === '*') return { source, empty: false, contains: () => true };
  const ranges: CidrRange[] = [];
  for (const item of source.split(',').map((s) => s.trim()).filter(Boolean)) {
    const pieces = item.split('/');
    if (pieces.length > 2) throw new ConfigError(name, raw, accepted);
    const [addr, prefixRaw] = pieces;
    const family = isIP(addr ?? '');
    if (family === 0) throw new ConfigError(name, raw, accepted);
    const maxPrefix = family === 4 ? 32 : 128;
    const prefix = prefixRaw === undefined ? maxPrefix : Number(prefixRaw);
    if (!Number.isInteger(prefix) || prefix < 0 || prefix > maxPrefix || (prefixRaw !== undefined && !/^\d+$/.test(prefixRaw))) {
      throw new ConfigError(name, raw, accepted);
    }
    ranges.push({ v6: family === 6, words: family === 4 ? ipv4Words(addr!) : ipv6Words(addr!), prefix });
  }
  return {
    source,
    empty: ranges.length === 0,
    contains(address: string | undefined): boolean {
      if (!address || ranges.length === 0) return false;
      const v6 = address.includes(':');
      const words = v6 ? ipv6Words(address) : ipv4Words(address);
      for (const range of ranges) if (range.v6 === v6 && matches(range, words)) return true;
      // An IPv4 client on a dual-stack socket arrives as ::ffff:a.b.c.d: IPv4 ranges apply to it too.
      if (v6 && address.toLowerCase().startsWith('::ffff:') && address.includes('.')) {
        const v4 = ipv4Words(address.slice(7));
        for (const range of ranges) if (!range.v6 && matches(range, v4)) return true;
      }
      return false;
    },
  };
}
