import { hostname } from 'node:os';
import { parseSniCerts, SniCertFiles } from '../tls/sni';
import {
  CidrList,
  ConfigError,
  parseBool,
  parseCidrList,
  parseDuration,
  parseEnum,
  parseHost,
  parseHttpUrl,
  parseInteger,
  parsePort,
  parseSize,
} from './parse';
import { parseWorkers } from '../cluster/workers-setting';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** The validated configuration. Every field maps to one environment variable listed in the README. */
export interface TiercelConfig {
  instanceId: string;
  /** WORKERS: processes serving the data ports of this instance (auto: one per available core). */
  workers: number;
  logLevel: LogLevel;
  proxy: {
    host: string;
    port: number;
    /** Reverse mode when set; forward-proxy mode when null. */
    upstream: URL | null;
    upstreamTimeoutMs: number;
    /** How long a request body may stall before the request is answered 408 (REQUEST_BODY_TIMEOUT). */
    requestBodyTimeoutMs: number;
    upstreamConnections: number;
    preserveHost: boolean;
    allowedClients: CidrList;
    /** Clients whose X-Forwarded-* and Forwarded fields are believed (TRUSTED_PROXIES); others' are replaced. */
    trustedProxies: CidrList;
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
    /** CACHE_MAX_AGE: the longest freshness any stored object gets; 0 means no cap. */
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
    /** Bearer token for write endpoints; null refuses them with 403. */
    token: string | null;
  };
  invalidation: {
    purgeAllow: CidrList;
    /** Remove Surrogate-Key and Cache-Tag before responses reach clients. */
    stripTagHeaders: boolean;
  };
  redis: RedisConfig | null;
  telemetry: TelemetryConfig;
  tls: TlsConfig;
}

/** HTTPS: termination on TLS_PORT, interception in forward mode, and how origins are verified. */
export interface TlsConfig {
  /** TLS_PORT: a second data port speaking TLS (HTTP/2 and HTTP/1.1 by ALPN); null: off. */
  port: number | null;
  certFile: string | null;
  keyFile: string | null;
  /** TLS_SNI_CERTS: certificates chosen by the client's server name on TLS_PORT, first match wins. */
  sniCerts: readonly SniCertFiles[];
  /** INTERCEPT: CONNECT tunnels carrying TLS are terminated with a certificate from Tiercel's CA. */
  intercept: boolean;
  caCertFile: string | null;
  caKeyFile: string | null;
  /** Where a generated CA is kept (DATA_DIR). */
  dataDir: string;
  /** Hosts never intercepted (INTERCEPT_EXCLUDE globs): their tunnels stay blind. */
  interceptExclude: readonly string[];
  /** Leaf certificates kept (INTERCEPT_CERT_CACHE). */
  leafCacheSize: number;
  /** Extra roots for origin certificates (UPSTREAM_CA), beside the system's. */
  upstreamCaFile: string | null;
  /** UPSTREAM_TLS_INSECURE: origin certificates are not verified (tests only). */
  upstreamInsecure: boolean;
}

export interface TelemetryConfig {
  /** OTEL_SDK_DISABLED: no metrics, no traces. */
  sdkDisabled: boolean;
  /** /metrics on the admin port (METRICS_ENABLED). */
  metrics: boolean;
  /** Tier timings in Server-Timing (SERVER_TIMING_HEADER). */
  serverTiming: boolean;
  /** The request's trace context in a `traceresponse` header (TRACE_RESPONSE_HEADER). */
  traceResponse: boolean;
  /** One log line per request (ACCESS_LOG). */
  accessLog: boolean;
  /** Set at start-up: whether a tracer provider is exporting spans (OTEL_TRACES_EXPORTER). */
  tracing: boolean;
}

export interface RedisEndpoint {
  host: string;
  port: number;
}

export type RedisTopology =
  | { kind: 'standalone'; host: string; port: number; tls: boolean; username: string | null }
  | { kind: 'sentinel'; sentinels: RedisEndpoint[]; master: string; sentinelPassword: string | null }
  | { kind: 'cluster'; nodes: RedisEndpoint[] };

export interface RedisConfig {
  topology: RedisTopology;
  password: string | null;
  db: number;
  keyPrefix: string;
  timeoutMs: number;
  maxObjectBytes: number;
  breakerThreshold: number;
  breakerCooldownMs: number;
  leaseMs: number;
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
  // The name is a token in Cache-Status (RFC 9211) and in Via (RFC 9110 §7.6.3): no '/' or ':'.
  if (!/^[A-Za-z][A-Za-z0-9._-]*$/.test(raw.trim())) {
    throw new ConfigError(name, raw, 'a token such as tiercel or edge-1 (a letter, then letters, digits, -._)');
  }
  return raw.trim();
}

function parseEndpoint(name: string, raw: string): RedisEndpoint {
  const m = /^\[?([^\]]+?)\]?:(\d{1,5})$/.exec(raw.trim());
  if (!m || Number(m[2]) < 1 || Number(m[2]) > 65535) throw new ConfigError(name, raw, 'host:port, such as 127.0.0.1:6379');
  return { host: m[1]!, port: Number(m[2]) };
}

function parseEndpointList(name: string, raw: string): RedisEndpoint[] {
  const items = raw.split(',').map((s) => s.trim()).filter(Boolean);
  if (items.length === 0) throw new ConfigError(name, raw, 'a comma-separated host:port list, such as 10.0.0.1:26379,10.0.0.2:26379');
  try {
    return items.map((i) => parseEndpoint(name, i));
  } catch {
    throw new ConfigError(name, raw, 'a comma-separated host:port list, such as 10.0.0.1:26379,10.0.0.2:26379');
  }
}

/** L2 is on with REDIS_ENABLED=true, or when REDIS_URL, REDIS_SENTINELS or REDIS_CLUSTER_NODES names a Redis. */
function loadRedisConfig(env: Env): RedisConfig | null {
  const given = (n: string) => env[n] !== undefined && env[n]!.trim() !== '';
  const explicit = given('REDIS_ENABLED') ? parseBool('REDIS_ENABLED', env.REDIS_ENABLED!) : null;
  const named = given('REDIS_URL') || given('REDIS_SENTINELS') || given('REDIS_CLUSTER_NODES');
  if (explicit === false || (explicit === null && !named)) return null;

  let password = given('REDIS_PASSWORD') ? env.REDIS_PASSWORD! : null;
  let db = read(env, 'REDIS_DB', '0', (n, r) => parseInteger(n, r, 0, 15));
  let topology: RedisTopology;
  if (given('REDIS_CLUSTER_NODES')) {
    topology = { kind: 'cluster', nodes: parseEndpointList('REDIS_CLUSTER_NODES', env.REDIS_CLUSTER_NODES!) };
  } else if (given('REDIS_SENTINELS')) {
    topology = {
      kind: 'sentinel',
      sentinels: parseEndpointList('REDIS_SENTINELS', env.REDIS_SENTINELS!),
      master: read(env, 'REDIS_SENTINEL_MASTER', 'mymaster', (_n, r) => r.trim()),
      sentinelPassword: given('REDIS_SENTINEL_PASSWORD') ? env.REDIS_SENTINEL_PASSWORD! : null,
    };
  } else if (given('REDIS_URL')) {
    const accepted = 'redis://[user:password@]host:port[/db] or rediss:// for TLS';
    let url: URL;
    try {
      url = new URL(env.REDIS_URL!.trim());
    } catch {
      throw new ConfigError('REDIS_URL', env.REDIS_URL!, accepted);
    }
    if ((url.protocol !== 'redis:' && url.protocol !== 'rediss:') || !url.hostname) throw new ConfigError('REDIS_URL', env.REDIS_URL!, accepted);
    if (url.password) password = decodeURIComponent(url.password);
    const path = url.pathname.replace(/^\//, '');
    if (path) db = parseInteger('REDIS_URL', path, 0, 15);
    topology = {
      kind: 'standalone',
      host: url.hostname.replace(/^\[|\]$/g, ''),
      port: url.port ? Number(url.port) : 6379,
      tls: url.protocol === 'rediss:',
      username: url.username ? decodeURIComponent(url.username) : null,
    };
  } else {
    const addr = read(env, 'REDIS_ADDR', '127.0.0.1:6379', parseEndpoint);
    topology = { kind: 'standalone', host: addr.host, port: addr.port, tls: false, username: null };
  }
  if (topology.kind === 'cluster' && db !== 0) throw new ConfigError('REDIS_DB', String(db), '0 with REDIS_CLUSTER_NODES (Redis Cluster has one database)');
  return {
    topology,
    password,
    db,
    keyPrefix: read(env, 'REDIS_KEY_PREFIX', 'tiercel:', (n, r) => {
      if (/[{}\s]/.test(r)) throw new ConfigError(n, r, 'a key prefix without braces or spaces, such as tiercel:');
      return r;
    }),
    timeoutMs: read(env, 'REDIS_TIMEOUT', '250ms', parseDuration),
    maxObjectBytes: read(env, 'REDIS_MAX_OBJECT_SIZE', '1m', parseSize),
    breakerThreshold: read(env, 'REDIS_BREAKER_THRESHOLD', '5', (n, r) => parseInteger(n, r, 1, 1000)),
    breakerCooldownMs: read(env, 'REDIS_BREAKER_COOLDOWN', '2s', parseDuration),
    leaseMs: read(env, 'REDIS_LEASE_TTL', '5s', parseDuration),
  };
}

function optionalFile(env: Env, name: string): string | null {
  const v = env[name]?.trim();
  return v ? v : null;
}

function loadTlsConfig(env: Env): TlsConfig {
  const portRaw = env.TLS_PORT?.trim();
  const port = portRaw ? parsePort('TLS_PORT', portRaw) : null;
  const certFile = optionalFile(env, 'TLS_CERT');
  const keyFile = optionalFile(env, 'TLS_KEY');
  if (port !== null && (certFile === null || keyFile === null)) {
    throw new ConfigError(certFile === null ? 'TLS_CERT' : 'TLS_KEY', '', 'a PEM file path: TLS_PORT needs TLS_CERT and TLS_KEY');
  }
  const sniRaw = env.TLS_SNI_CERTS?.trim() ?? '';
  const sni = parseSniCerts(sniRaw);
  if (!Array.isArray(sni)) throw new ConfigError('TLS_SNI_CERTS', sniRaw, `comma-separated <host glob>=<cert file>:<key file> (${sni.error})`);
  if (sni.length > 0 && port === null) throw new ConfigError('TLS_SNI_CERTS', sniRaw, 'TLS_PORT set too: the certificates are for the TLS data port');
  const caCertFile = optionalFile(env, 'CA_CERT');
  const caKeyFile = optionalFile(env, 'CA_KEY');
  if ((caCertFile === null) !== (caKeyFile === null)) {
    throw new ConfigError(caCertFile === null ? 'CA_CERT' : 'CA_KEY', '', 'a PEM file path: CA_CERT and CA_KEY go together');
  }
  const exclude = (env.INTERCEPT_EXCLUDE ?? '').split(',').map((g) => g.trim().toLowerCase()).filter(Boolean);
  for (const g of exclude) {
    if (!/^[a-z0-9*.\-:[\]]+$/.test(g)) throw new ConfigError('INTERCEPT_EXCLUDE', env.INTERCEPT_EXCLUDE!, 'comma-separated host globs such as *.bank.example,pinned.example.com');
  }
  return {
    port,
    certFile,
    keyFile,
    sniCerts: sni,
    intercept: read(env, 'INTERCEPT', 'false', parseBool),
    caCertFile,
    caKeyFile,
    dataDir: read(env, 'DATA_DIR', './data', (_n, r) => r.trim()),
    interceptExclude: exclude,
    leafCacheSize: read(env, 'INTERCEPT_CERT_CACHE', '1000', (n, r) => parseInteger(n, r, 1, 1_000_000)),
    upstreamCaFile: optionalFile(env, 'UPSTREAM_CA'),
    upstreamInsecure: read(env, 'UPSTREAM_TLS_INSECURE', 'false', parseBool),
  };
}

/** Every variable Tiercel reads (the README's tables list them with their defaults). */
export const KNOWN_VARIABLES: readonly string[] = [
  'UPSTREAM_URL', 'UPSTREAM_TIMEOUT', 'REQUEST_BODY_TIMEOUT', 'UPSTREAM_CONNECTIONS', 'PRESERVE_HOST', 'ALLOWED_CLIENTS', 'TRUSTED_PROXIES', 'CONNECT_PORTS',
  'PROXY_HOST', 'PROXY_PORT', 'PROXY_VIA', 'PROXY_FORWARDED_HEADERS', 'SHUTDOWN_TIMEOUT', 'INSTANCE_ID', 'LOG_LEVEL',
  'CACHE_NAME', 'CACHE_SIZE_MB', 'CACHE_MAX_OBJECT_SIZE', 'CACHE_MAX_AGE', 'CACHE_DEFAULT_TTL', 'CACHE_HEURISTIC_MAX',
  'CACHE_STRIP_SET_COOKIE', 'CACHE_X_CACHE_HEADER', 'COALESCE_TIMEOUT', 'COALESCE_MAX_WAITERS', 'HIT_FOR_PASS_TTL',
  'ADMIN_HOST', 'ADMIN_PORT', 'ADMIN_TOKEN', 'PURGE_ALLOW', 'STRIP_SURROGATE_HEADERS',
  'METRICS_ENABLED', 'SERVER_TIMING_HEADER', 'TRACE_RESPONSE_HEADER', 'ACCESS_LOG',
  'REDIS_ENABLED', 'REDIS_URL', 'REDIS_ADDR', 'REDIS_PASSWORD', 'REDIS_DB', 'REDIS_SENTINELS', 'REDIS_SENTINEL_MASTER',
  'REDIS_SENTINEL_PASSWORD', 'REDIS_CLUSTER_NODES', 'REDIS_KEY_PREFIX', 'REDIS_TIMEOUT', 'REDIS_MAX_OBJECT_SIZE',
  'REDIS_BREAKER_THRESHOLD', 'REDIS_BREAKER_COOLDOWN', 'REDIS_LEASE_TTL', 'TIERCEL_CONFIG',
  'TLS_PORT', 'TLS_CERT', 'TLS_KEY', 'TLS_SNI_CERTS', 'INTERCEPT', 'INTERCEPT_EXCLUDE', 'INTERCEPT_CERT_CACHE', 'CA_CERT', 'CA_KEY', 'DATA_DIR',
  'UPSTREAM_CA', 'UPSTREAM_TLS_INSECURE', 'WORKERS',
];

/** Names that look like Tiercel's: a typo among them would otherwise be silently ignored. */
const TIERCEL_LOOKING = /^(UPSTREAM|REQUEST_BODY|PROXY|CACHE|REDIS|ADMIN|COALESCE|HIT_FOR_PASS|PURGE|TRUSTED|ALLOWED|CONNECT_PORT|PRESERVE|SHUTDOWN|METRICS|SERVER_TIMING|TRACE_RESPONSE|ACCESS_LOG|STRIP_SURROGATE|TLS_|INTERCEPT|CA_CERT|CA_KEY|DATA_DIR)/;

/** One warning per unknown Tiercel-looking variable, naming the closest known one. */
export function unknownVariables(env: Env): string[] {
  const known = new Set(KNOWN_VARIABLES);
  const out: string[] = [];
  for (const name of Object.keys(env).sort()) {
    if (known.has(name) || !TIERCEL_LOOKING.test(name)) continue;
    let best = '';
    let bestDistance = Infinity;
    for (const k of KNOWN_VARIABLES) {
      const d = editDistance(name, k);
      if (d < bestDistance) [best, bestDistance] = [k, d];
    }
    out.push(bestDistance <= Math.max(3, Math.floor(name.length / 3)) ? `unknown variable ${name} is ignored: did you mean ${best}?` : `unknown variable ${name} is ignored`);
  }
  return out;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length]!;
}

const SAMPLERS = ['always_on', 'always_off', 'traceidratio', 'parentbased_always_on', 'parentbased_always_off', 'parentbased_traceidratio'];

/** OTEL_TRACES_SAMPLER and its argument, checked at start: a typo must not mean 100% sampling. */
function checkSampler(env: Env): void {
  const sampler = env.OTEL_TRACES_SAMPLER?.trim();
  if (sampler) parseEnum('OTEL_TRACES_SAMPLER', sampler.toLowerCase(), SAMPLERS);
  const arg = env.OTEL_TRACES_SAMPLER_ARG?.trim();
  if (arg && /traceidratio$/.test(sampler?.toLowerCase() ?? '')) {
    const n = Number(arg);
    if (!/^\d*\.?\d+(e-?\d+)?$/i.test(arg) || !(n >= 0 && n <= 1)) throw new ConfigError('OTEL_TRACES_SAMPLER_ARG', arg, 'a ratio between 0 and 1, such as 0.01');
  }
}

export function loadConfig(env: Env = process.env): TiercelConfig {
  checkSampler(env);
  const upstreamRaw = env.UPSTREAM_URL?.trim();
  const cacheSizeMb = read(env, 'CACHE_SIZE_MB', '200', (n, r) => parseInteger(n, r, 1, 1_048_576));
  const config: TiercelConfig = {
    instanceId: read(env, 'INSTANCE_ID', `${hostname()}-${process.pid}`, (_n, r) => r.trim()),
    workers: read(env, 'WORKERS', '1', parseWorkers),
    logLevel: read(env, 'LOG_LEVEL', 'info', (n, r) => parseEnum(n, r, LOG_LEVELS)),
    proxy: {
      host: read(env, 'PROXY_HOST', '127.0.0.1', parseHost),
      port: read(env, 'PROXY_PORT', '8080', parsePort),
      upstream: upstreamRaw ? parseHttpUrl('UPSTREAM_URL', upstreamRaw) : null,
      upstreamTimeoutMs: read(env, 'UPSTREAM_TIMEOUT', '30s', parseDuration),
      requestBodyTimeoutMs: read(env, 'REQUEST_BODY_TIMEOUT', '10s', parseDuration),
      upstreamConnections: read(env, 'UPSTREAM_CONNECTIONS', '256', (n, r) => parseInteger(n, r, 1, 65535)),
      preserveHost: read(env, 'PRESERVE_HOST', 'true', parseBool),
      allowedClients: read(env, 'ALLOWED_CLIENTS', '127.0.0.0/8,::1/128', parseCidrList),
      trustedProxies: read(env, 'TRUSTED_PROXIES', '', parseCidrList),
      connectPorts: read(env, 'CONNECT_PORTS', '443', parsePortList),
      addVia: read(env, 'PROXY_VIA', 'true', parseBool),
      addForwarded: read(env, 'PROXY_FORWARDED_HEADERS', 'true', parseBool),
      shutdownTimeoutMs: read(env, 'SHUTDOWN_TIMEOUT', '10s', parseDuration),
    },
    cache: {
      name: read(env, 'CACHE_NAME', 'tiercel', parseName),
      sizeBytes: cacheSizeMb * 1024 * 1024,
      maxObjectBytes: read(env, 'CACHE_MAX_OBJECT_SIZE', '10m', parseSize),
      maxAgeMs: read(env, 'CACHE_MAX_AGE', '0', parseDuration),
      defaultTtlMs: read(env, 'CACHE_DEFAULT_TTL', '0', parseDuration),
      heuristicMaxMs: read(env, 'CACHE_HEURISTIC_MAX', '1d', parseDuration),
      stripSetCookie: read(env, 'CACHE_STRIP_SET_COOKIE', 'false', parseBool),
      xCacheHeader: read(env, 'CACHE_X_CACHE_HEADER', 'true', parseBool),
      coalesceTimeoutMs: read(env, 'COALESCE_TIMEOUT', '10s', parseDuration),
      coalesceMaxWaiters: read(env, 'COALESCE_MAX_WAITERS', '1000', (n, r) => parseInteger(n, r, 0, 1_000_000)),
      hitForPassMs: read(env, 'HIT_FOR_PASS_TTL', '10s', parseDuration),
    },
    admin: {
      host: read(env, 'ADMIN_HOST', '127.0.0.1', parseHost),
      port: read(env, 'ADMIN_PORT', '9464', parsePort),
      token: env.ADMIN_TOKEN?.trim() ? env.ADMIN_TOKEN.trim() : null,
    },
    invalidation: {
      purgeAllow: read(env, 'PURGE_ALLOW', '127.0.0.0/8,::1/128', parseCidrList),
      stripTagHeaders: read(env, 'STRIP_SURROGATE_HEADERS', 'true', parseBool),
    },
    redis: loadRedisConfig(env),
    telemetry: {
      sdkDisabled: read(env, 'OTEL_SDK_DISABLED', 'false', parseBool),
      metrics: read(env, 'METRICS_ENABLED', 'true', parseBool),
      serverTiming: read(env, 'SERVER_TIMING_HEADER', 'true', parseBool),
      traceResponse: read(env, 'TRACE_RESPONSE_HEADER', 'true', parseBool),
      accessLog: read(env, 'ACCESS_LOG', 'false', parseBool),
      tracing: false,
    },
    tls: loadTlsConfig(env),
  };
  if (config.cache.maxObjectBytes > config.cache.sizeBytes) {
    throw new ConfigError('CACHE_MAX_OBJECT_SIZE', env.CACHE_MAX_OBJECT_SIZE?.trim() || '10m', `a size no larger than CACHE_SIZE_MB (${cacheSizeMb}m)`);
  }
  if (config.proxy.upstreamTimeoutMs <= 0) {
    throw new ConfigError('UPSTREAM_TIMEOUT', env.UPSTREAM_TIMEOUT ?? '', 'a positive duration such as 30s');
  }
  return config;
}

/** The per-delivery header slots for this configuration (see trailerTemplate). */
export function deliveryHeaders(config: TiercelConfig): { xCache: boolean; serverTiming: boolean } {
  return { xCache: config.cache.xCacheHeader, serverTiming: config.telemetry.serverTiming };
}
