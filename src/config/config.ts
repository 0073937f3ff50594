import { hostname } from 'node:os';
import {
  CidrList,
  ConfigError,
  parseBool,
  parseCidrList,
  parseDuration,
  parseEnum,
  parseHttpUrl,
  parseInteger,
  parsePort,
  parseSize,
} from './parse';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** The validated configuration. Every field maps to one environment variable listed in the README. */
export interface TiercelConfig {
  instanceId: string;
  logLevel: LogLevel;
  proxy: {
    host: string;
    port: number;
    /** Reverse mode when set; forward-proxy mode when null. */
    upstream: URL | null;
    upstreamTimeoutMs: number;
    upstreamConnections: number;
    preserveHost: boolean;
    allowedClients: CidrList;
    /** Ports CONNECT may tunnel to; null means any. */
    connectPorts: ReadonlySet<number> | null;
    addVia: boolean;
    addForwarded: boolean;
    shutdownTimeoutMs: number;
  };
  cache: {
    name: string;
    sizeBytes: number;
    maxObjectBytes: number;
    maxAgeMs: number;
    defaultTtlMs: number;
    heuristicMaxMs: number;
    stripSetCookie: boolean;
    xCacheHeader: boolean;
    coalesceTimeoutMs: number;
    coalesceMaxWaiters: number;
    hitForPassMs: number;
  };
  admin: {
    host: string;
    port: number;
  };
}

type Env = Record<string, string | undefined>;

/** Reads one variable, trimming it; an unset or empty variable yields the default. */
function read<T>(env: Env, name: string, fallback: string, parse: (name: string, raw: string) => T): T {
  const raw = env[name];
  return parse(name, raw === undefined || raw.trim() === '' ? fallback : raw);
}

function parsePortList(name: string, raw: string): ReadonlySet<number> | null {
  if (raw.trim() === '*') return null;
  const ports = raw.split(',').map((p) => p.trim()).filter(Boolean);
  if (ports.length === 0) throw new ConfigError(name, raw, 'a comma-separated list of ports such as 443,8443 (or * for any)');
  return new Set(ports.map((p) => parseInteger(name, p, 1, 65535)));
}

function parseName(name: string, raw: string): string {
  // The name is an RFC 8941 token in Cache-Status.
  if (!/^[A-Za-z*][A-Za-z0-9:/!#$%&'*+\-.^_`|~]*$/.test(raw.trim())) {
    throw new ConfigError(name, raw, 'a token such as tiercel or edge-1 (letters, digits, -._:)');
  }
  return raw.trim();
}

export function loadConfig(env: Env = process.env): TiercelConfig {
  const upstreamRaw = env.UPSTREAM_URL?.trim();
  const cacheSizeMb = read(env, 'CACHE_SIZE_MB', '200', (n, r) => parseInteger(n, r, 1, 1_048_576));
  const config: TiercelConfig = {
    instanceId: read(env, 'INSTANCE_ID', `${hostname()}-${process.pid}`, (_n, r) => r.trim()),
    logLevel: read(env, 'LOG_LEVEL', 'info', (n, r) => parseEnum(n, r, LOG_LEVELS)),
    proxy: {
      host: read(env, 'PROXY_HOST', '127.0.0.1', (_n, r) => r.trim()),
      port: read(env, 'PROXY_PORT', '8080', parsePort),
      upstream: upstreamRaw ? parseHttpUrl('UPSTREAM_URL', upstreamRaw) : null,
      upstreamTimeoutMs: read(env, 'UPSTREAM_TIMEOUT', '30s', parseDuration),
      upstreamConnections: read(env, 'UPSTREAM_CONNECTIONS', '256', (n, r) => parseInteger(n, r, 1, 65535)),
      preserveHost: read(env, 'PRESERVE_HOST', 'true', parseBool),
      allowedClients: read(env, 'ALLOWED_CLIENTS', '127.0.0.0/8,::1/128', parseCidrList),
      connectPorts: read(env, 'CONNECT_PORTS', '443', parsePortList),
      addVia: read(env, 'PROXY_VIA', 'true', parseBool),
      addForwarded: read(env, 'PROXY_FORWARDED_HEADERS', 'true', parseBool),
      shutdownTimeoutMs: read(env, 'SHUTDOWN_TIMEOUT', '10s', parseDuration),
    },
    cache: {
      name: read(env, 'CACHE_NAME', 'tiercel', parseName),
      sizeBytes: cacheSizeMb * 1024 * 1024,
      maxObjectBytes: read(env, 'CACHE_MAX_OBJECT_SIZE', '10m', parseSize),
      maxAgeMs: read(env, 'CACHE_MAX_AGE', '5m', parseDuration),
      defaultTtlMs: read(env, 'CACHE_DEFAULT_TTL', '0', parseDuration),
      heuristicMaxMs: read(env, 'CACHE_HEURISTIC_MAX', '1d', parseDuration),
      stripSetCookie: read(env, 'CACHE_STRIP_SET_COOKIE', 'false', parseBool),
      xCacheHeader: read(env, 'CACHE_X_CACHE_HEADER', 'true', parseBool),
      coalesceTimeoutMs: read(env, 'COALESCE_TIMEOUT', '10s', parseDuration),
      coalesceMaxWaiters: read(env, 'COALESCE_MAX_WAITERS', '1000', (n, r) => parseInteger(n, r, 0, 1_000_000)),
      hitForPassMs: read(env, 'HIT_FOR_PASS_TTL', '10s', parseDuration),
    },
    admin: {
      host: read(env, 'ADMIN_HOST', '127.0.0.1', (_n, r) => r.trim()),
      port: read(env, 'ADMIN_PORT', '9464', parsePort),
    },
  };
  if (config.cache.maxObjectBytes > config.cache.sizeBytes) {
    throw new ConfigError('CACHE_MAX_OBJECT_SIZE', env.CACHE_MAX_OBJECT_SIZE ?? '', `a size no larger than CACHE_SIZE_MB (${cacheSizeMb}m)`);
  }
  if (config.proxy.upstreamTimeoutMs <= 0) {
    throw new ConfigError('UPSTREAM_TIMEOUT', env.UPSTREAM_TIMEOUT ?? '', 'a positive duration such as 30s');
  }
  return config;
}
