// docker-compose.cache.yml's data path without Docker: the demo origin (demo/origin.mjs), Redis
// and three Sentinels from config/ (through the same start scripts), two Tiercel processes with
// the environment the compose file gives tiercel-1 and tiercel-2, nginx with config/nginx.conf in
// front, and demo/load.mjs driving traffic through it. Only addresses change: service names
// become 127.0.0.1 and free ports, Tempo becomes a local OTLP/HTTP receiver.
import assert from 'node:assert/strict';
import { ChildProcess, spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, IncomingHttpHeaders, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Redis from 'ioredis';
import { send } from '../support/client';
import { spawnTiercel, TiercelProcess } from '../support/process';
import { freePort } from '../support/redis';
import { ENV_EXAMPLE, healthcheckCommand, loadCompose, parseEnvFile, read, ROOT, runAsync, serviceEnv, waitFor, which } from '../support/deployment';

const compose = loadCompose();
const secrets = parseEnvFile(readFileSync(ENV_EXAMPLE, 'utf8'));

const children = new Set<ChildProcess>();
process.once('exit', () => {
  for (const c of children) c.kill('SIGKILL');
});

function start(cmd: string, args: string[], env: NodeJS.ProcessEnv): { child: ChildProcess; output: () => string } {
  const child = spawn(cmd, args, { env: { PATH: process.env.PATH, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  child.once('exit', () => children.delete(child));
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  return { child, output: () => out };
}

async function stopChild(c: ChildProcess | undefined): Promise<void> {
  if (!c || c.exitCode !== null || c.signalCode !== null) return;
  const exited = new Promise((r) => c.once('exit', r));
  c.kill('SIGTERM');
  const t = setTimeout(() => c.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(t);
}

async function redisPing(port: number, password?: string): Promise<boolean> {
  const c = new Redis({ host: '127.0.0.1', port, password, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  c.on('error', () => {});
  try {
    await c.connect();
    return (await c.ping()) === 'PONG';
  } finally {
    c.disconnect();
  }
}

/** Runs a compose healthcheck written for `port` against `to` instead. */
async function composeHealthcheck(service: string, port: number, to: number): Promise<number | null> {
  const hc = healthcheckCommand(compose.services[service]!.healthcheck!.test);
  assert.ok('argv' in hc, `${service}'s healthcheck is an exec-form command`);
  const argv = hc.argv.map((a) => a.replace(`127.0.0.1:${port}/`, `127.0.0.1:${to}/`));
  assert.notDeepEqual(argv, hc.argv, `${service}'s healthcheck names port ${port}`);
  const [prog, ...args] = argv;
  return (await runAsync(prog === 'node' ? process.execPath : prog!, args, { env: { PATH: process.env.PATH }, timeoutMs: 10_000 })).code;
}

describe('the compose stack’s data path, run locally (demo origin, Redis + Sentinel, two Tiercels, nginx, load generator)', () => {
  let dir: string;
  let origin: { child: ChildProcess; output: () => string; port: number };
  let master: ChildProcess;
  const sentinels: ChildProcess[] = [];
  const sentinelPorts: number[] = [];
  const tiercels: TiercelProcess[] = [];
  let nginx: { child: ChildProcess; output: () => string };
  let lbPort: number;
  let otlp: Server;
  const otlpRequests: { url: string; headers: IncomingHttpHeaders }[] = [];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tiercel-stack-'));
    chmodSync(dir, 0o755); // nginx workers run as nobody

    // The demo origin, as the compose `origin` service runs it.
    const originPort = await freePort();
    const o = start(process.execPath, [join(ROOT, 'demo/origin.mjs')], { PORT: String(originPort), HOST: '127.0.0.1' });
    origin = { ...o, port: originPort };
    await waitFor(`the demo origin (${o.output()})`, async () => o.output().includes('listening'), 10_000, 50);

    // Redis and three sentinels from config/, with the password of .env.example.
    mkdirSync(join(dir, 'redis'));
    const masterPort = await freePort();
    master = start('sh', [join(ROOT, 'config/redis-start.sh'), '--port', String(masterPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
      REDIS_TEMPLATE: join(ROOT, 'config/redis.conf'),
      REDIS_DIR: join(dir, 'redis'),
      REDIS_PASSWORD: secrets.REDIS_PASSWORD,
    }).child;
    await waitFor('redis', () => redisPing(masterPort, secrets.REDIS_PASSWORD), 10_000);
    for (let i = 1; i <= 3; i++) {
      const port = await freePort();
      const sdir = join(dir, `sentinel-${i}`);
      mkdirSync(sdir);
      const template = read('config/sentinel.conf')
        .replace(/^port 26379$/m, `port ${port}`)
        .replace(/^(sentinel monitor mymaster) redis-master 6379 /m, `$1 127.0.0.1 ${masterPort} `)
        .concat('\nbind 127.0.0.1\n');
      writeFileSync(join(dir, `sentinel-${i}.template`), template);
      sentinels.push(
        start('sh', [join(ROOT, 'config/sentinel-start.sh')], {
          SENTINEL_TEMPLATE: join(dir, `sentinel-${i}.template`),
          SENTINEL_DIR: sdir,
          REDIS_PASSWORD: secrets.REDIS_PASSWORD,
          SENTINEL_PASSWORD: secrets.SENTINEL_PASSWORD,
          SENTINEL_ANNOUNCE_HOSTNAME: '127.0.0.1',
        }).child,
      );
      sentinelPorts.push(port);
    }
    for (const p of sentinelPorts) await waitFor('sentinel', () => redisPing(p, secrets.SENTINEL_PASSWORD), 10_000);

    // Tempo's stand-in: records what arrives on the OTLP/HTTP traces path.
    otlp = createServer((req, res) => {
      otlpRequests.push({ url: req.url ?? '', headers: req.headers });
      req.resume();
      req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end('{}'));
    });
    await new Promise<void>((r) => otlp.listen(0, '127.0.0.1', r));
    const otlpPort = (otlp.address() as AddressInfo).port;

    // tiercel-1 and tiercel-2 with the compose environment, addresses made local.
    for (const name of ['tiercel-1', 'tiercel-2']) {
      const env = serviceEnv(compose.services[name]!);
      env.UPSTREAM_URL = env.UPSTREAM_URL!.replace('//origin:8000', `//127.0.0.1:${originPort}`);
      env.REDIS_SENTINELS = env.REDIS_SENTINELS!.split(',').map((_s, i) => `127.0.0.1:${sentinelPorts[i]}`).join(',');
      env.OTEL_EXPORTER_OTLP_ENDPOINT = env.OTEL_EXPORTER_OTLP_ENDPOINT!.replace('//tempo:4318', `//127.0.0.1:${otlpPort}`);
      Object.assign(env, { PROXY_HOST: '127.0.0.1', ADMIN_HOST: '127.0.0.1', PROXY_PORT: '0', ADMIN_PORT: '0' });
      tiercels.push(await spawnTiercel(env));
    }
    for (const t of tiercels) await waitFor('L2 ok through Sentinel', async () => JSON.parse((await send(t.adminPort, '/readyz')).body).l2 === 'ok', 10_000);

    // nginx with config/nginx.conf, its upstreams and listen port made local.
    lbPort = await freePort();
    const site = read('config/nginx.conf')
      .replace(/server tiercel-1:8080\b/, `server 127.0.0.1:${tiercels[0]!.proxyPort}`)
      .replace(/server tiercel-2:8080\b/, `server 127.0.0.1:${tiercels[1]!.proxyPort}`)
      // IP literals need no resolving, and `resolve` needs nginx 1.27.3 (the image's, not this machine's).
      .replace(/(server 127\.0\.0\.1:\d+[^;]*) resolve;/g, '$1;')
      .replace(/^(\s*)listen 8080;$/m, `$1listen 127.0.0.1:${lbPort};`);
    writeFileSync(join(dir, 'default.conf'), site);
    writeFileSync(
      join(dir, 'nginx.conf'),
      `daemon off;\nworker_processes 1;\npid ${dir}/nginx.pid;\nerror_log stderr warn;\nevents { worker_connections 256; }\nhttp {\n  access_log off;\n  include ${dir}/default.conf;\n}\n`,
    );
    const nginxBin = which('nginx', `${process.env.PATH}:/usr/sbin`);
    assert.ok(nginxBin, 'nginx is installed (Debian package nginx-light; .ci/run installs it)');
    nginx = start(nginxBin, ['-p', `${dir}/`, '-e', 'stderr', '-c', join(dir, 'nginx.conf')], {});
    await waitFor(`nginx (${nginx.output()})`, async () => (await send(lbPort, '/_lb/health')).status === 200, 10_000, 50);
  });

  after(async () => {
    await stopChild(nginx?.child);
    for (const t of tiercels) await stopChild(t.child);
    for (const s of sentinels) await stopChild(s);
    await stopChild(master);
    await stopChild(origin?.child);
    await new Promise((r) => (otlp ? otlp.close(r) : r(null)));
    rmSync(dir, { recursive: true, force: true });
  });

  it("answers the compose healthchecks of the origin and of Tiercel (/readyz)", async () => {
    assert.equal(await composeHealthcheck('origin', 8000, origin.port), 0);
    for (const t of tiercels) assert.equal(await composeHealthcheck('tiercel-1', 9464, t.adminPort), 0);
  });

  it('serves the demo paths through the balancer with the cache headers they are meant to show', async () => {
    const p1 = await send(lbPort, '/products/7');
    assert.equal(p1.status, 200);
    assert.equal(p1.headers['surrogate-key'], undefined, 'Surrogate-Key is stripped before clients');
    assert.match(String(p1.headers['cache-status']), /^tiercel; fwd=uri-miss; fwd-status=200; stored/);
    const cart = await send(lbPort, '/users/3/cart');
    assert.match(String(cart.headers['cache-status']), /detail=no-store/);
    const direct = await send(origin.port, '/products/7');
    assert.equal(direct.headers['surrogate-key'], 'product-7 products', 'the origin tags its products');
    // PURGE through the balancer: PURGE_ALLOW in the compose file admits the balancer's address.
    const purge = await send(lbPort, '/products/7', { method: 'PURGE' });
    assert.equal(purge.status, 200, purge.body);
  });

  it('demo/load.mjs drives both instances through nginx: L1 and L2 hits, tag invalidations, no errors', async () => {
    const r = await runAsync(process.execPath, [join(ROOT, 'demo/load.mjs')], {
      env: {
        PATH: process.env.PATH,
        TARGET: `http://127.0.0.1:${lbPort}`,
        RATE: '400',
        CONCURRENCY: '8',
        REQUESTS: '800',
        PRODUCTS: '300',
        REPORT_EVERY: '60',
        ADMIN_URLS: `http://127.0.0.1:${tiercels[0]!.adminPort}`,
        ADMIN_TOKEN: secrets.ADMIN_TOKEN,
        INVALIDATE_EVERY: '1',
      },
      timeoutMs: 30_000,
    });
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, any>);
    const final = lines.at(-1)!;
    assert.equal(final.final, true);
    assert.equal(final.sent, 800);
    assert.equal(final.errors, 0, r.stdout);
    assert.equal(final.ok, 800);
    for (const status of Object.keys(final.byStatus)) assert.ok(['200', '503'].includes(status), `status ${status} (503s only from /flaky)`);
    assert.ok(final.byCache.HIT > 200, `hits: ${JSON.stringify(final.byCache)}`);
    assert.ok(lines.some((l) => l.invalidated && l.status === 200), `a tag invalidation went through: ${r.stdout}`);

    const stats = await Promise.all(tiercels.map(async (t) => JSON.parse((await send(t.adminPort, '/stats')).body) as Record<string, any>));
    for (const [i, s] of stats.entries()) assert.ok(s.hits + s.misses > 100, `tiercel-${i + 1} took its share: ${JSON.stringify(s)}`);
    assert.ok(stats[0]!.l2Hits + stats[1]!.l2Hits > 0, 'objects one instance filled were served from L2 by the other');
    assert.ok(stats[0]!.invalidationsByKind.tags >= 1, JSON.stringify(stats[0]!.invalidationsByKind));
    assert.ok(stats[1]!.bus.received >= 1, 'tiercel-2 heard the invalidations over Pub/Sub');
  });

  it("logs Alertmanager's webhook notifications on the demo origin", async () => {
    const body = JSON.stringify({
      version: '4',
      status: 'firing',
      alerts: [{ status: 'firing', labels: { alertname: 'TiercelDeployCheck', severity: 'warning' }, annotations: { summary: 'a test notification' } }],
    });
    const res = await send(origin.port, '/_alerts', { method: 'POST', body, headers: { 'content-type': 'application/json' } });
    assert.equal(res.status, 200);
    await waitFor('the alert line', async () => origin.output().includes('alert firing: TiercelDeployCheck warning a test notification'), 5000, 20);
  });

  it('exports spans to the OTLP endpoint the compose file sets (flushed on SIGTERM)', async () => {
    for (const t of tiercels) {
      t.child.kill('SIGTERM');
      assert.equal((await t.exited).code, 0);
    }
    assert.ok(otlpRequests.length > 0, 'spans arrived');
    for (const req of otlpRequests) assert.equal(req.url, '/v1/traces');
  });
});
