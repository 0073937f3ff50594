import assert from 'node:assert/strict';
import { hostname } from 'node:os';
import { describe, it } from 'node:test';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { KNOWN_VARIABLES, loadConfig, unknownVariables } from './config';
import { ConfigError } from './parse';

/** Asserts loadConfig(env) throws a ConfigError naming the variable, the value and the accepted form. */
function assertRejects(env: Record<string, string>, name: string, value: string, accepted: RegExp): void {
  assert.throws(() => loadConfig(env), (err: unknown) => {
    assert.ok(err instanceof ConfigError, `expected ConfigError for ${JSON.stringify(env)}, got ${String(err)}`);
    assert.ok(err.message.includes(name), `message does not name ${name}: ${err.message}`);
    assert.ok(err.message.includes(JSON.stringify(value)), `message does not quote ${JSON.stringify(value)}: ${err.message}`);
    assert.match(err.message, accepted);
    return true;
  }, `expected ${JSON.stringify(env)} to be rejected`);
}

const DURATION = /a duration such as 300, 300s, 5m, 1h/;
const BOOL = /true or false/;

describe('loadConfig defaults', () => {
  const c = loadConfig({});

  it('identifies the instance and logs at info', () => {
    assert.equal(c.instanceId, `${hostname()}-${process.pid}`);
    assert.equal(c.logLevel, 'info');
  });

  it('listens on loopback, forward mode, with the documented proxy defaults', () => {
    assert.equal(c.proxy.host, '127.0.0.1');
    assert.equal(c.proxy.port, 8080);
    assert.equal(c.proxy.upstream, null);
    assert.equal(c.proxy.upstreamTimeoutMs, 30_000);
    assert.equal(c.proxy.upstreamConnections, 256);
    assert.equal(c.proxy.preserveHost, true);
    assert.deepEqual(c.proxy.connectPorts, new Set([443]));
    assert.equal(c.proxy.addVia, true);
    assert.equal(c.proxy.addForwarded, true);
    assert.equal(c.proxy.shutdownTimeoutMs, 10_000);
  });

  it('allows only loopback clients', () => {
    assert.equal(c.proxy.allowedClients.contains('127.0.0.1'), true);
    assert.equal(c.proxy.allowedClients.contains('127.1.2.3'), true);
    assert.equal(c.proxy.allowedClients.contains('::1'), true);
    assert.equal(c.proxy.allowedClients.contains('::ffff:127.0.0.1'), true);
    assert.equal(c.proxy.allowedClients.contains('10.0.0.1'), false);
    assert.equal(c.proxy.allowedClients.contains('2001:db8::1'), false);
  });

  it('has the documented cache defaults', () => {
    assert.equal(c.cache.name, 'tiercel');
    assert.equal(c.cache.sizeBytes, 200 * 1024 * 1024);
    assert.equal(c.cache.maxObjectBytes, 10 * 1024 * 1024);
    assert.equal(c.cache.maxAgeMs, 0, 'CACHE_MAX_AGE: no cap by default');
    assert.equal(c.cache.defaultTtlMs, 0);
    assert.equal(c.cache.heuristicMaxMs, 86_400_000);
    assert.equal(c.cache.stripSetCookie, false);
    assert.equal(c.cache.xCacheHeader, true);
    assert.equal(c.cache.coalesceTimeoutMs, 10_000);
    assert.equal(c.cache.coalesceMaxWaiters, 1000);
    assert.equal(c.cache.hitForPassMs, 10_000);
  });

  it('serves admin on loopback port 9464', () => {
    assert.equal(c.admin.host, '127.0.0.1');
    assert.equal(c.admin.port, 9464);
  });

  it('treats empty and blank variables as unset', () => {
    const blank = loadConfig({ PROXY_PORT: '', LOG_LEVEL: '   ', CACHE_MAX_AGE: '', UPSTREAM_URL: '  ' });
    assert.equal(blank.proxy.port, 8080);
    assert.equal(blank.logLevel, 'info');
    assert.equal(blank.cache.maxAgeMs, 0);
    assert.equal(blank.proxy.upstream, null);
  });
});

describe('loadConfig reads each variable', () => {
  it('reads identity and logging', () => {
    const c = loadConfig({ INSTANCE_ID: ' edge-a ', LOG_LEVEL: 'DEBUG' });
    assert.equal(c.instanceId, 'edge-a');
    assert.equal(c.logLevel, 'debug');
  });

  it('reads the proxy variables', () => {
    const c = loadConfig({
      PROXY_HOST: '0.0.0.0', PROXY_PORT: '3128', UPSTREAM_URL: ' http://127.0.0.1:3000 ', UPSTREAM_TIMEOUT: '5s',
      UPSTREAM_CONNECTIONS: '16', PRESERVE_HOST: 'false', ALLOWED_CLIENTS: '10.0.0.0/8', CONNECT_PORTS: '443, 8443',
      PROXY_VIA: 'off', PROXY_FORWARDED_HEADERS: 'no', SHUTDOWN_TIMEOUT: '2500ms',
    });
    assert.equal(c.proxy.host, '0.0.0.0');
    assert.equal(c.proxy.port, 3128);
    assert.equal(c.proxy.upstream?.href, 'http://127.0.0.1:3000/');
    assert.equal(c.proxy.upstreamTimeoutMs, 5_000);
    assert.equal(c.proxy.upstreamConnections, 16);
    assert.equal(c.proxy.preserveHost, false);
    assert.equal(c.proxy.allowedClients.contains('10.9.8.7'), true);
    assert.equal(c.proxy.allowedClients.contains('127.0.0.1'), false);
    assert.deepEqual(c.proxy.connectPorts, new Set([443, 8443]));
    assert.equal(c.proxy.addVia, false);
    assert.equal(c.proxy.addForwarded, false);
    assert.equal(c.proxy.shutdownTimeoutMs, 2_500);
  });

  it('reads CONNECT_PORTS=* as any port', () => {
    assert.equal(loadConfig({ CONNECT_PORTS: '*' }).proxy.connectPorts, null);
  });

  it('reads ALLOWED_CLIENTS=* as everyone, with IPv6 and mapped IPv4 clients', () => {
    const any = loadConfig({ ALLOWED_CLIENTS: '*' }).proxy.allowedClients;
    assert.equal(any.contains('203.0.113.1'), true);
    assert.equal(any.contains('2001:db8::1'), true);
    const mixed = loadConfig({ ALLOWED_CLIENTS: '192.168.0.0/16, 2001:db8::/32' }).proxy.allowedClients;
    assert.equal(mixed.contains('::ffff:192.168.4.4'), true);
    assert.equal(mixed.contains('2001:db8:1::5'), true);
    assert.equal(mixed.contains('2001:db9::5'), false);
  });

  it('reads https upstreams', () => {
    assert.equal(loadConfig({ UPSTREAM_URL: 'https://origin.example' }).proxy.upstream?.protocol, 'https:');
  });

  it('reads durations as 300, 300s, 5m and 1h', () => {
    assert.equal(loadConfig({ CACHE_MAX_AGE: '300' }).cache.maxAgeMs, 300_000);
    assert.equal(loadConfig({ CACHE_MAX_AGE: '300s' }).cache.maxAgeMs, 300_000);
    assert.equal(loadConfig({ CACHE_MAX_AGE: '5m' }).cache.maxAgeMs, 300_000);
    assert.equal(loadConfig({ CACHE_MAX_AGE: '1h' }).cache.maxAgeMs, 3_600_000);
  });

  it('reads the cache variables', () => {
    const c = loadConfig({
      CACHE_NAME: 'edge-1', CACHE_SIZE_MB: '64', CACHE_MAX_OBJECT_SIZE: '512k', CACHE_MAX_AGE: '1h', CACHE_DEFAULT_TTL: '30s',
      CACHE_HEURISTIC_MAX: '2h', CACHE_STRIP_SET_COOKIE: 'yes', CACHE_X_CACHE_HEADER: '0', COALESCE_TIMEOUT: '1m',
      COALESCE_MAX_WAITERS: '0', HIT_FOR_PASS_TTL: '0',
    });
    assert.equal(c.cache.name, 'edge-1');
    assert.equal(c.cache.sizeBytes, 64 * 1024 * 1024);
    assert.equal(c.cache.maxObjectBytes, 512 * 1024);
    assert.equal(c.cache.maxAgeMs, 3_600_000);
    assert.equal(c.cache.defaultTtlMs, 30_000);
    assert.equal(c.cache.heuristicMaxMs, 7_200_000);
    assert.equal(c.cache.stripSetCookie, true);
    assert.equal(c.cache.xCacheHeader, false);
    assert.equal(c.cache.coalesceTimeoutMs, 60_000);
    assert.equal(c.cache.coalesceMaxWaiters, 0);
    assert.equal(c.cache.hitForPassMs, 0);
  });

  it('reads sizes in bytes and binary units', () => {
    assert.equal(loadConfig({ CACHE_MAX_OBJECT_SIZE: '1048576' }).cache.maxObjectBytes, 1_048_576);
    assert.equal(loadConfig({ CACHE_MAX_OBJECT_SIZE: '2MB' }).cache.maxObjectBytes, 2 * 1024 * 1024);
    assert.equal(loadConfig({ CACHE_SIZE_MB: '2048', CACHE_MAX_OBJECT_SIZE: '1GiB' }).cache.maxObjectBytes, 1024 ** 3);
  });

  it('allows an object size equal to the cache size', () => {
    assert.equal(loadConfig({ CACHE_SIZE_MB: '1', CACHE_MAX_OBJECT_SIZE: '1m' }).cache.maxObjectBytes, 1024 * 1024);
  });

  it('reads the admin variables', () => {
    const c = loadConfig({ ADMIN_HOST: '::1', ADMIN_PORT: '0' });
    assert.equal(c.admin.host, '::1');
    assert.equal(c.admin.port, 0);
  });
});

describe('loadConfig rejects bad values with a ConfigError naming variable, value and accepted form', () => {
  it('LOG_LEVEL', () => assertRejects({ LOG_LEVEL: 'verbose' }, 'LOG_LEVEL', 'verbose', /one of fatal, error, warn, info, debug, trace, silent/));

  it('PROXY_PORT and ADMIN_PORT', () => {
    assertRejects({ PROXY_PORT: '70000' }, 'PROXY_PORT', '70000', /an integer from 0 to 65535/);
    assertRejects({ PROXY_PORT: 'http' }, 'PROXY_PORT', 'http', /an integer from 0 to 65535/);
    assertRejects({ ADMIN_PORT: '-1' }, 'ADMIN_PORT', '-1', /an integer from 0 to 65535/);
  });

  it('PROXY_HOST must be an address or host name', () => {
    assertRejects({ PROXY_HOST: 'http://0.0.0.0' }, 'PROXY_HOST', 'http://0.0.0.0', /./);
    assertRejects({ PROXY_HOST: 'local host' }, 'PROXY_HOST', 'local host', /./);
  });

  it('ADMIN_HOST must be an address or host name', () => {
    assertRejects({ ADMIN_HOST: 'http://127.0.0.1:9464' }, 'ADMIN_HOST', 'http://127.0.0.1:9464', /./);
    assertRejects({ ADMIN_HOST: 'local host' }, 'ADMIN_HOST', 'local host', /./);
  });

  it('UPSTREAM_URL', () => {
    assertRejects({ UPSTREAM_URL: 'origin.example:3000' }, 'UPSTREAM_URL', 'origin.example:3000', /an absolute http:\/\/ or https:\/\/ URL/);
    assertRejects({ UPSTREAM_URL: 'ftp://origin.example' }, 'UPSTREAM_URL', 'ftp://origin.example', /an absolute http:\/\/ or https:\/\/ URL/);
  });

  it('UPSTREAM_TIMEOUT, including zero', () => {
    assertRejects({ UPSTREAM_TIMEOUT: '30 seconds' }, 'UPSTREAM_TIMEOUT', '30 seconds', DURATION);
    assertRejects({ UPSTREAM_TIMEOUT: '0' }, 'UPSTREAM_TIMEOUT', '0', /a positive duration/);
    assertRejects({ UPSTREAM_TIMEOUT: '0ms' }, 'UPSTREAM_TIMEOUT', '0ms', /a positive duration/);
  });

  it('every other duration variable', () => {
    for (const name of ['SHUTDOWN_TIMEOUT', 'CACHE_MAX_AGE', 'CACHE_DEFAULT_TTL', 'CACHE_HEURISTIC_MAX', 'COALESCE_TIMEOUT', 'HIT_FOR_PASS_TTL']) {
      assertRejects({ [name]: '5 minutes' }, name, '5 minutes', DURATION);
      assertRejects({ [name]: '-1s' }, name, '-1s', DURATION);
    }
  });

  it('UPSTREAM_CONNECTIONS', () => {
    assertRejects({ UPSTREAM_CONNECTIONS: '0' }, 'UPSTREAM_CONNECTIONS', '0', /an integer from 1 to 65535/);
    assertRejects({ UPSTREAM_CONNECTIONS: 'many' }, 'UPSTREAM_CONNECTIONS', 'many', /an integer from 1 to 65535/);
  });

  it('every boolean variable', () => {
    for (const name of ['PRESERVE_HOST', 'PROXY_VIA', 'PROXY_FORWARDED_HEADERS', 'CACHE_STRIP_SET_COOKIE', 'CACHE_X_CACHE_HEADER']) {
      assertRejects({ [name]: 'maybe' }, name, 'maybe', BOOL);
    }
  });

  it('ALLOWED_CLIENTS', () => {
    const accepted = /a comma-separated list of CIDR ranges/;
    assertRejects({ ALLOWED_CLIENTS: '10.0.0.0/33' }, 'ALLOWED_CLIENTS', '10.0.0.0/33', accepted);
    assertRejects({ ALLOWED_CLIENTS: '127.0.0.1,localhost' }, 'ALLOWED_CLIENTS', '127.0.0.1,localhost', accepted);
    assertRejects({ ALLOWED_CLIENTS: '::1/129' }, 'ALLOWED_CLIENTS', '::1/129', accepted);
  });

  it('CONNECT_PORTS', () => {
    assertRejects({ CONNECT_PORTS: ',' }, 'CONNECT_PORTS', ',', /a comma-separated list of ports/);
    assertRejects({ CONNECT_PORTS: '443,https' }, 'CONNECT_PORTS', 'https', /an integer from 1 to 65535/);
    assertRejects({ CONNECT_PORTS: '0' }, 'CONNECT_PORTS', '0', /an integer from 1 to 65535/);
  });

  it('CACHE_NAME must be a token (RFC 8941 in Cache-Status)', () => {
    assertRejects({ CACHE_NAME: 'my cache' }, 'CACHE_NAME', 'my cache', /a token/);
    assertRejects({ CACHE_NAME: '1edge' }, 'CACHE_NAME', '1edge', /a token/);
    assertRejects({ CACHE_NAME: 'edge"1' }, 'CACHE_NAME', 'edge"1', /a token/);
  });

  it('CACHE_NAME must also be a valid Via pseudonym (RFC 9110 §7.6.3 token: no "/")', () => {
    assertRejects({ CACHE_NAME: 'edge/1' }, 'CACHE_NAME', 'edge/1', /a token/);
  });

  it('CACHE_SIZE_MB', () => {
    assertRejects({ CACHE_SIZE_MB: '0' }, 'CACHE_SIZE_MB', '0', /an integer from 1 to 1048576/);
    assertRejects({ CACHE_SIZE_MB: '1.5' }, 'CACHE_SIZE_MB', '1.5', /an integer from 1 to 1048576/);
    assertRejects({ CACHE_SIZE_MB: '200MB' }, 'CACHE_SIZE_MB', '200MB', /an integer from 1 to 1048576/);
  });

  it('CACHE_MAX_OBJECT_SIZE', () => {
    assertRejects({ CACHE_MAX_OBJECT_SIZE: '10 megabytes' }, 'CACHE_MAX_OBJECT_SIZE', '10 megabytes', /a size in bytes such as 1048576, 512k, 10m or 1g/);
  });

  it('CACHE_MAX_OBJECT_SIZE larger than the cache', () => {
    assertRejects({ CACHE_SIZE_MB: '10', CACHE_MAX_OBJECT_SIZE: '20m' }, 'CACHE_MAX_OBJECT_SIZE', '20m', /no larger than CACHE_SIZE_MB \(10m\)/);
  });

  it('CACHE_MAX_OBJECT_SIZE default larger than a small cache names the value in effect', () => {
    // Only CACHE_SIZE_MB was set; the 10m default is what is too large, and the message should say so.
    assertRejects({ CACHE_SIZE_MB: '5' }, 'CACHE_MAX_OBJECT_SIZE', '10m', /no larger than CACHE_SIZE_MB \(5m\)/);
  });

  it('COALESCE_MAX_WAITERS', () => {
    assertRejects({ COALESCE_MAX_WAITERS: '-1' }, 'COALESCE_MAX_WAITERS', '-1', /an integer from 0 to 1000000/);
    assertRejects({ COALESCE_MAX_WAITERS: '1000001' }, 'COALESCE_MAX_WAITERS', '1000001', /an integer from 0 to 1000000/);
  });

  it('keeps the raw value, untrimmed, in the message', () => {
    assertRejects({ LOG_LEVEL: ' loud ' }, 'LOG_LEVEL', ' loud ', /one of/);
  });
});

describe('KNOWN_VARIABLES', () => {
  it('is exactly the Tiercel variables the README documents (besides OTEL_*)', () => {
    const readme = readFileSync(join(__dirname, '../../../README.md'), 'utf8');
    const documented = new Set([...readme.matchAll(/^\| `([A-Z][A-Z0-9_]*)` \|/gm)].map((m) => m[1]!).filter((n) => !n.startsWith('OTEL_')));
    assert.deepEqual([...KNOWN_VARIABLES].sort(), [...documented].sort());
  });

  it('warns about a Tiercel-looking name that is not one, naming the closest', () => {
    assert.deepEqual(unknownVariables({ CACHE_SIZEMB: '5', PATH: '/bin', CACHE_SIZE_MB: '5' }), ['unknown variable CACHE_SIZEMB is ignored: did you mean CACHE_SIZE_MB?']);
  });
});

describe('HTTPS settings', () => {
  it('are off by default: no TLS port, no interception, origins verified', () => {
    const t = loadConfig({}).tls;
    assert.equal(t.port, null);
    assert.equal(t.intercept, false);
    assert.equal(t.upstreamInsecure, false);
    assert.equal(t.dataDir, './data');
    assert.equal(t.leafCacheSize, 1000);
    assert.deepEqual(t.interceptExclude, []);
  });

  it('TLS_PORT needs TLS_CERT and TLS_KEY; CA_CERT and CA_KEY go together; globs are host globs', () => {
    assert.throws(() => loadConfig({ TLS_PORT: '8443' }), /TLS_CERT/);
    assert.throws(() => loadConfig({ TLS_PORT: '8443', TLS_CERT: 'c.pem' }), /TLS_KEY/);
    assert.throws(() => loadConfig({ CA_CERT: 'ca.pem' }), /CA_KEY/);
    assert.throws(() => loadConfig({ INTERCEPT_EXCLUDE: 'bank.example/login' }), /INTERCEPT_EXCLUDE/);
    assertRejects({ INTERCEPT: 'yes please' }, 'INTERCEPT', 'yes please', BOOL);
    const t = loadConfig({ TLS_PORT: '8443', TLS_CERT: 'c.pem', TLS_KEY: 'k.pem', INTERCEPT_EXCLUDE: ' *.Bank.example , pinned.example.com' }).tls;
    assert.equal(t.port, 8443);
    assert.deepEqual(t.interceptExclude, ['*.bank.example', 'pinned.example.com']);
  });
});
