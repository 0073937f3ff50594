// docker-compose.cache.yml: validated by docker-compose itself, then checked against the files
// it mounts and against Tiercel's own configuration loader.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { loadConfig } from '../../src/config/config';
import {
  COMPOSE_FILE,
  ComposeService,
  ENV_EXAMPLE,
  loadCompose,
  mounts,
  parseEnvFile,
  read,
  ROOT,
  run,
  serviceEnv,
  which,
} from '../support/deployment';

const compose = loadCompose();
const services = compose.services;
const envExample = parseEnvFile(readFileSync(ENV_EXAMPLE, 'utf8'));
const tiercels = Object.keys(services).filter((n) => /^tiercel-\d+$/.test(n));
const dockerCompose = which('docker-compose');

/** Every environment variable src/config/config.ts reads (read(env, 'X', …), env.X, given('X')). */
function variablesTiercelReads(): Set<string> {
  const src = read('src/config/config.ts') + read('src/telemetry/otel-sdk.ts');
  const names = new Set<string>();
  for (const m of src.matchAll(/\bread\(env, '([A-Z0-9_]+)'|\benv(?:\.|\[')([A-Z][A-Z0-9_]+)|given\('([A-Z0-9_]+)'\)|parse\w*\('([A-Z][A-Z0-9_]+)'/g)) {
    names.add((m[1] ?? m[2] ?? m[3] ?? m[4])!);
  }
  return names;
}

/** OpenTelemetry SDK environment variables (the specification's, read by @opentelemetry/sdk-node). */
const OTEL_STANDARD = new Set([
  'OTEL_SDK_DISABLED',
  'OTEL_SERVICE_NAME',
  'OTEL_RESOURCE_ATTRIBUTES',
  'OTEL_TRACES_EXPORTER',
  'OTEL_TRACES_SAMPLER',
  'OTEL_TRACES_SAMPLER_ARG',
  'OTEL_PROPAGATORS',
  'OTEL_LOG_LEVEL',
  'OTEL_EXPORTER_OTLP_ENDPOINT',
  'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT',
  'OTEL_EXPORTER_OTLP_PROTOCOL',
  'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL',
  'OTEL_EXPORTER_OTLP_HEADERS',
  'OTEL_EXPORTER_OTLP_TIMEOUT',
  'OTEL_EXPORTER_OTLP_COMPRESSION',
  'OTEL_BSP_SCHEDULE_DELAY',
  'OTEL_BSP_MAX_QUEUE_SIZE',
  'OTEL_BSP_MAX_EXPORT_BATCH_SIZE',
]);

describe('docker-compose.cache.yml', () => {
  it('passes `docker-compose config -q` with the values of .env.example', { skip: dockerCompose ? false : 'docker-compose is not installed (.ci/run installs it)' }, () => {
    const r = run(dockerCompose!, ['-f', COMPOSE_FILE, '--env-file', ENV_EXAMPLE, 'config', '-q'], { timeoutMs: 30_000 });
    assert.equal(r.status, 0, `docker-compose config failed:\n${r.stderr}${r.stdout}`);
  });

  it('refuses to run without the secrets, naming the missing variable', { skip: dockerCompose ? false : 'docker-compose is not installed (.ci/run installs it)' }, () => {
    const dir = mkdtempSync(join(tmpdir(), 'tiercel-compose-'));
    try {
      const empty = join(dir, 'empty.env');
      writeFileSync(empty, '');
      const r = run(dockerCompose!, ['-f', COMPOSE_FILE, '--env-file', empty, 'config', '-q'], { env: { PATH: process.env.PATH }, timeoutMs: 30_000 });
      assert.notEqual(r.status, 0, 'config must fail without REDIS_PASSWORD, ADMIN_TOKEN and GRAFANA_ADMIN_PASSWORD');
      assert.match(r.stderr, /set (REDIS_PASSWORD|ADMIN_TOKEN|GRAFANA_ADMIN_PASSWORD) in \.env/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('is read here exactly as docker-compose resolves it (services, environments, mounts)', { skip: dockerCompose ? false : 'docker-compose is not installed (.ci/run installs it)' }, () => {
    const r = run(dockerCompose!, ['-f', COMPOSE_FILE, '--env-file', ENV_EXAMPLE, '--profile', 'load', 'config'], { timeoutMs: 30_000 });
    assert.equal(r.status, 0, r.stderr);
    const resolved = parse(r.stdout) as { services: Record<string, ComposeService> };
    assert.deepEqual(Object.keys(resolved.services).sort(), Object.keys(services).sort());
    for (const [name, s] of Object.entries(services)) {
      assert.deepEqual(serviceEnv(resolved.services[name]!), serviceEnv(s), `environment of ${name}`);
      const targets = (x: ComposeService) => mounts(x).map((m) => m.target).sort();
      assert.deepEqual(targets(resolved.services[name]!), targets(s), `mounts of ${name}`);
    }
  });

  it('keeps secrets out of the file: each comes from the environment', () => {
    const text = readFileSync(COMPOSE_FILE, 'utf8');
    for (const [name, value] of Object.entries(envExample)) {
      assert.ok(!text.includes(value), `${name}'s value is written in the compose file`);
      assert.match(text, new RegExp(`\\$\\{${name}:\\?`), `${name} is required with \${${name}:?…}`);
    }
    assert.deepEqual(Object.keys(envExample).sort(), ['ADMIN_TOKEN', 'GRAFANA_ADMIN_PASSWORD', 'REDIS_PASSWORD', 'SENTINEL_PASSWORD']);
    assert.match(readFileSync(ENV_EXAMPLE, 'utf8'), /LOCAL-ONLY/);
    for (const value of Object.values(envExample)) assert.match(value, /^localonly[A-Za-z0-9]+$/, 'local defaults say so and use letters and digits only');
  });

  it('has every bind-mounted file and directory in the repository', () => {
    const missing: string[] = [];
    for (const [name, s] of Object.entries(services)) {
      for (const m of mounts(s).filter((x) => x.bind)) {
        if (!existsSync(m.hostPath)) missing.push(`${name}: ${m.source} (-> ${m.target})`);
        else assert.ok(m.readOnly, `${name} mounts ${m.source} read-only`);
      }
    }
    assert.deepEqual(missing, [], `mount sources missing:\n${missing.join('\n')}`);
    for (const [name, s] of Object.entries(services)) {
      for (const m of mounts(s).filter((x) => !x.bind)) assert.ok(compose.volumes && m.source in compose.volumes, `${name}: volume ${m.source} is declared`);
    }
  });

  it('has a healthcheck on every long-running service that can have one, and starts in order', () => {
    // tempo: its image has no shell or HTTP client; load: a client, nothing depends on it.
    const without = new Set(['tempo', 'load']);
    for (const [name, s] of Object.entries(services)) {
      if (without.has(name)) continue;
      assert.ok(s.healthcheck?.test, `${name} has a healthcheck`);
    }
    for (const [name, s] of Object.entries(services)) {
      const deps = s.depends_on ?? {};
      assert.ok(!Array.isArray(deps), `${name}: depends_on with conditions`);
      for (const [dep, { condition }] of Object.entries(deps)) {
        assert.ok(services[dep], `${name} depends on ${dep}, which exists`);
        const expected = services[dep]!.healthcheck ? 'service_healthy' : 'service_started';
        assert.equal(condition, expected, `${name} waits for ${dep} to be ${expected.replace('service_', '')}`);
      }
    }
    for (const t of tiercels) {
      const deps = Object.keys(services[t]!.depends_on as Record<string, unknown>);
      for (const d of ['redis-master', 'sentinel-1', 'sentinel-2', 'sentinel-3', 'origin']) assert.ok(deps.includes(d), `${t} waits for ${d}`);
    }
    assert.deepEqual(services.load!.profiles, ['load']);
  });

  it('publishes ports on loopback only, and never Redis, the sentinels or Tempo', () => {
    const published = new Map<string, string>();
    for (const [name, s] of Object.entries(services)) {
      for (const p of s.ports ?? []) {
        assert.match(p, /^127\.0\.0\.1:\d+:\d+$/, `${name} publishes ${p} on 127.0.0.1`);
        const host = p.split(':')[1]!;
        assert.ok(!published.has(host), `host port ${host} published twice (${published.get(host)}, ${name})`);
        published.set(host, name);
      }
      if (/^(redis|sentinel|tempo)/.test(name)) assert.equal(s.ports, undefined, `${name} is private`);
    }
    assert.equal(published.get('8080'), 'lb');
    assert.equal(published.get('3000'), 'grafana');
    assert.equal(published.get('9090'), 'prometheus');
  });

  it('runs two or more Tiercel instances, each with its own INSTANCE_ID and host ports', () => {
    assert.ok(tiercels.length >= 2, `tiercel instances: ${tiercels.join(', ')}`);
    const ids = tiercels.map((t) => serviceEnv(services[t]!).INSTANCE_ID);
    assert.deepEqual(ids, tiercels, 'INSTANCE_ID is the service name');
    for (const t of tiercels) {
      const env = serviceEnv(services[t]!);
      const targets = (services[t]!.ports ?? []).map((p) => p.split(':')[2]);
      assert.deepEqual(targets.sort(), [env.PROXY_PORT, env.ADMIN_PORT].sort(), `${t} publishes its data and admin ports`);
    }
  });

  it("sets on the Tiercel services only variables Tiercel reads, with values Tiercel's loader accepts", () => {
    const known = variablesTiercelReads();
    // The loader's own list must be found, or this check would pass vacuously.
    for (const v of ['UPSTREAM_URL', 'REDIS_SENTINELS', 'REDIS_PASSWORD', 'ADMIN_TOKEN', 'INSTANCE_ID', 'CACHE_SIZE_MB', 'OTEL_SDK_DISABLED']) assert.ok(known.has(v), `found ${v} in src/config`);
    for (const t of tiercels) {
      const env = serviceEnv(services[t]!);
      const unknown = Object.keys(env).filter((k) => !known.has(k) && !OTEL_STANDARD.has(k));
      assert.deepEqual(unknown, [], `${t} sets variables Tiercel does not know: ${unknown.join(', ')}`);

      const config = loadConfig(env);
      assert.equal(config.instanceId, t);
      assert.equal(config.proxy.host, '0.0.0.0');
      assert.equal(config.admin.host, '0.0.0.0');
      assert.equal(config.admin.token, envExample.ADMIN_TOKEN);
      assert.equal(config.proxy.upstream?.href, 'http://origin:8000/');
      assert.ok(config.redis, `${t} has L2 on`);
      assert.equal(config.redis.password, envExample.REDIS_PASSWORD);
      assert.equal(config.redis.topology.kind, 'sentinel');
      if (config.redis.topology.kind === 'sentinel') {
        assert.equal(config.redis.topology.master, 'mymaster');
        assert.deepEqual(config.redis.topology.sentinels.map((s) => `${s.host}:${s.port}`), ['sentinel-1:26379', 'sentinel-2:26379', 'sentinel-3:26379']);
      }
    }
  });

  it('points the Tiercel services at hosts and ports that the other services and files provide', () => {
    const sentinelConf = read('config/sentinel.conf');
    const sentinelPort = /^port (\d+)$/m.exec(sentinelConf)![1];
    const masterName = /^sentinel monitor (\S+) /m.exec(sentinelConf)![1];
    const tempo = parse(read('config/tempo.yml')) as any;
    const otlpHttp: string = tempo.distributor.receivers.otlp.protocols.http.endpoint;
    const origin = services.origin!;
    for (const t of tiercels) {
      const env = serviceEnv(services[t]!);
      const upstream = new URL(env.UPSTREAM_URL!);
      assert.ok(services[upstream.hostname], `UPSTREAM_URL names the ${upstream.hostname} service`);
      assert.equal(upstream.port, serviceEnv(origin).PORT, 'UPSTREAM_URL uses the port the origin listens on');
      for (const s of env.REDIS_SENTINELS!.split(',')) {
        const [host, port] = s.split(':');
        assert.ok(services[host!], `REDIS_SENTINELS names the ${host} service`);
        assert.equal(port, sentinelPort, `${host} listens on ${sentinelPort} (config/sentinel.conf)`);
      }
      assert.equal(env.REDIS_SENTINEL_MASTER, masterName);
      const otlp = new URL(env.OTEL_EXPORTER_OTLP_ENDPOINT!);
      assert.ok(services[otlp.hostname], `OTEL_EXPORTER_OTLP_ENDPOINT names the ${otlp.hostname} service`);
      assert.equal(otlp.port, otlpHttp.split(':').pop(), "the OTLP endpoint's port is Tempo's OTLP/HTTP receiver port (config/tempo.yml)");
      const health = JSON.stringify(services[t]!.healthcheck!.test);
      assert.ok(health.includes(`127.0.0.1:${env.ADMIN_PORT}/readyz`), `${t}'s healthcheck asks its admin port`);
    }
    const nginx = read('config/nginx.conf');
    const upstreams = [...nginx.matchAll(/^\s*server ([\w-]+):(\d+)/gm)].map((m) => `${m[1]}:${m[2]}`);
    assert.deepEqual(upstreams, tiercels.map((t) => `${t}:${serviceEnv(services[t]!).PROXY_PORT}`), 'the load balancer sends to every Tiercel data port');
    assert.ok(mounts(services.lb!).some((m) => m.source === './config/nginx.conf'));
    const loadEnv = serviceEnv(services.load!);
    assert.equal(new URL(loadEnv.TARGET!).hostname, 'lb');
    for (const u of loadEnv.ADMIN_URLS!.split(',')) assert.ok(tiercels.includes(new URL(u).hostname), `load invalidates through ${u}`);
  });

  it('runs Redis from config/redis.conf and the sentinels from config/sentinel.conf, with the password from the environment', () => {
    for (const name of ['redis-master', 'redis-replica']) {
      const s = services[name]!;
      const env = serviceEnv(s);
      assert.equal(env.REDIS_PASSWORD, envExample.REDIS_PASSWORD);
      assert.equal(env.REDISCLI_AUTH, envExample.REDIS_PASSWORD, 'the healthcheck authenticates');
      assert.equal(env.REDIS_ANNOUNCE_HOSTNAME, name);
      const m = mounts(s);
      assert.ok(m.some((x) => x.source === './config/redis.conf' && x.target === '/etc/redis/redis.conf'));
      assert.ok(m.some((x) => x.source === './config/redis-start.sh' && x.target === '/etc/redis/redis-start.sh'));
      assert.ok(m.some((x) => !x.bind && x.target === '/data'), `${name} keeps /data in a volume`);
      assert.deepEqual(s.command, ['sh', '/etc/redis/redis-start.sh']);
    }
    assert.equal(serviceEnv(services['redis-replica']!).REDIS_REPLICAOF, 'redis-master 6379');
    const sentinels = Object.keys(services).filter((n) => /^sentinel-\d+$/.test(n));
    assert.equal(sentinels.length, 3);
    for (const name of sentinels) {
      const s = services[name]!;
      assert.equal(serviceEnv(s).SENTINEL_ANNOUNCE_HOSTNAME, name);
      assert.equal(serviceEnv(s).REDIS_PASSWORD, envExample.REDIS_PASSWORD);
      assert.equal(serviceEnv(s).SENTINEL_PASSWORD, envExample.SENTINEL_PASSWORD, 'the sentinels require a password');
      assert.equal(serviceEnv(s).REDISCLI_AUTH, envExample.SENTINEL_PASSWORD, 'the healthcheck authenticates');
      assert.ok(mounts(s).some((x) => x.source === './config/sentinel.conf' && x.target === '/etc/redis/sentinel.conf' && x.readOnly));
      assert.deepEqual(s.command, ['sh', '/etc/redis/sentinel-start.sh']);
    }
    const exporter = serviceEnv(services['redis-exporter']!);
    assert.equal(exporter.REDIS_PASSWORD, envExample.REDIS_PASSWORD);
    assert.ok(services[new URL(exporter.REDIS_ADDR!).hostname]);
  });

  it('rotates every service\'s logs, drops privileges, limits the observability services, and keeps Alertmanager\'s and Tempo\'s data', () => {
    for (const [name, s] of Object.entries(services)) {
      const x = s as unknown as { logging?: { driver: string; options: Record<string, string> }; security_opt?: string[]; cap_drop?: string[]; read_only?: boolean; mem_limit?: string | number; cpus?: string | number; image?: string };
      assert.equal(x.logging?.driver, 'json-file', `${name}: logging`);
      assert.ok(x.logging?.options['max-size'] && x.logging.options['max-file'], `${name}: rotated`);
      assert.ok(x.security_opt?.includes('no-new-privileges:true'), `${name}: no-new-privileges`);
      assert.deepEqual(x.cap_drop, ['ALL'], `${name}: cap_drop ALL`);
      assert.equal(x.read_only, true, `${name}: read-only root filesystem`);
      assert.ok(x.mem_limit, `${name}: memory limit`);
    }
    for (const name of ['prometheus', 'grafana', 'tempo', 'alertmanager']) {
      const x = services[name] as unknown as { cpus?: string | number };
      assert.ok(Number(x.cpus) > 0, `${name}: CPU limit`);
    }
    for (const [name, target] of [['alertmanager', '/alertmanager'], ['tempo', '/var/tempo'], ['prometheus', '/prometheus'], ['grafana', '/var/lib/grafana']] as const) {
      assert.ok(mounts(services[name]!).some((m) => !m.bind && m.target === target), `${name}: a volume on ${target}`);
    }
  });

  it('balances without retrying or failing instances on the 5xx Tiercel forwards, and re-resolves them', () => {
    const conf = readFileSync(join(ROOT, 'config/nginx.conf'), 'utf8');
    const next = /^\s*proxy_next_upstream\s+([^;]+);/m.exec(conf)?.[1]?.split(/\s+/) ?? [];
    assert.deepEqual(next.sort(), ['error', 'timeout']);
    assert.match(conf, /^resolver 127\.0\.0\.11\b/m);
    assert.match(conf, /^\s*zone tiercel \d+k;/m);
    for (const t of tiercels) assert.match(conf, new RegExp(`^\\s*server ${t}:8080 [^;]* resolve;`, 'm'));
    const image = (services.lb as unknown as { image: string }).image;
    const [major, minor] = /nginx:(\d+)\.(\d+)/.exec(image)!.slice(1).map(Number) as [number, number];
    assert.ok(major > 1 || minor >= 28, `${image}: upstream resolve needs nginx 1.27.3 or later`);
  });

  it('gives Grafana its admin password from the environment and anonymous viewers', () => {
    const env = serviceEnv(services.grafana!);
    assert.equal(env.GF_SECURITY_ADMIN_PASSWORD, envExample.GRAFANA_ADMIN_PASSWORD);
    assert.equal(env.GF_AUTH_ANONYMOUS_ENABLED, 'true');
    assert.equal(env.GF_AUTH_ANONYMOUS_ORG_ROLE, 'Viewer');
  });

  it('ignores .env in git, so real secrets are not committed', () => {
    const r = run('git', ['check-ignore', '-q', '.env'], { cwd: ROOT });
    assert.ok(r.status === 0 || r.error !== undefined || !statSync(join(ROOT, '.git'), { throwIfNoEntry: false }), '.env is ignored');
  });
});
