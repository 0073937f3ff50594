import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Agent, request as httpRequest } from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { send, sleep } from '../support/client';
import { startOrigin, TestOrigin } from '../support/origin';
import { runTiercel, spawnTiercel, TiercelProcess } from '../support/process';
import { RedisProcess, startRedis } from '../support/redis';

const TOKEN = 'workers-test-token';

async function stats(t: TiercelProcess): Promise<Record<string, any>> {
  return JSON.parse((await send(t.adminPort, '/stats')).body);
}

/** Per worker, from the instance's /stats. */
async function perWorker(t: TiercelProcess): Promise<Record<string, any>[]> {
  return (await stats(t)).workers.list;
}

async function until<T>(what: string, ms: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await probe().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

async function stop(t: TiercelProcess | undefined): Promise<void> {
  if (t === undefined || t.child.exitCode !== null) return;
  t.child.kill('SIGTERM');
  const timer = setTimeout(() => t.child.kill('SIGKILL'), 15_000);
  await t.exited;
  clearTimeout(timer);
}

/** Requests on fresh connections until every worker holds the object in its own L1. */
async function inEveryL1(t: TiercelProcess, path: string): Promise<void> {
  await until(`${path} in both workers' L1`, 10_000, async () => {
    await Promise.all(Array.from({ length: 10 }, () => send(t.proxyPort, path)));
    const list = await perWorker(t);
    return list.length === 2 && list.every((w) => w.l1.entries >= 1) ? true : undefined;
  });
}

function cacheable(origin: TestOrigin, path: string, delayMs = 0): void {
  origin.handle(path, (_req, res) => {
    setTimeout(() => {
      res.writeHead(200, { 'cache-control': 'max-age=300', 'content-type': 'text/plain' });
      res.end(`body of ${path}`);
    }, delayMs);
  });
}

describe('WORKERS=2: one instance, two worker processes', () => {
  let origin: TestOrigin;
  let t: TiercelProcess;

  before(async () => {
    origin = await startOrigin();
    t = await spawnTiercel({ UPSTREAM_URL: origin.url, WORKERS: '2', ADMIN_TOKEN: TOKEN, SHUTDOWN_TIMEOUT: '5s' });
  });
  after(async () => {
    await stop(t);
    await origin?.close();
  });

  it('starts two workers behind one data port and one admin port, and says so once', async () => {
    const starts = t.stdout().split('\n').filter((l) => l.includes('"tiercel started"'));
    assert.equal(starts.length, 1);
    const line = JSON.parse(starts[0]!);
    assert.equal(line.workers, 2);
    assert.equal(line.pids.length, 2);
    const s = await stats(t);
    assert.equal(s.workers.configured, 2);
    assert.equal(s.workers.serving, 2);
    assert.deepEqual(s.workers.list.map((w: any) => w.l1.capacityBytes), [100 * 1024 * 1024, 100 * 1024 * 1024], 'CACHE_SIZE_MB=200 split in two');
    assert.equal(s.l1.capacityBytes, 200 * 1024 * 1024);
  });

  it('spreads 2,000 keep-alive connections over both workers, and /metrics counts every request the client sent', async () => {
    const path = '/spread';
    cacheable(origin, path);
    assert.equal((await send(t.proxyPort, path)).status, 200);
    const before = await perWorker(t);
    const metricsBefore = requestsTotal((await send(t.adminPort, '/metrics')).body);
    const CONNECTIONS = 2000;
    const PER_CONNECTION = 2;
    let sent = 0;
    let failed = 0;
    for (let batch = 0; batch < CONNECTIONS; batch += 200) {
      await Promise.all(
        Array.from({ length: 200 }, async () => {
          const agent = new Agent({ keepAlive: true, maxSockets: 1 });
          try {
            for (let i = 0; i < PER_CONNECTION; i++) {
              sent++;
              const status = await getOn(agent, t.proxyPort, path);
              if (status !== 200) failed++;
            }
          } finally {
            agent.destroy();
          }
        }),
      );
    }
    assert.equal(failed, 0);
    const after = await perWorker(t);
    const served = after.map((w, i) => w.hits + w.misses - (before[i]!.hits + before[i]!.misses));
    assert.equal(served[0]! + served[1]!, sent, `per-worker requests ${served} add up to the ${sent} sent`);
    for (const n of served) assert.ok(n >= sent / 4, `each worker served at least a quarter of ${sent}: ${served}`);
    const metricsAfter = requestsTotal((await send(t.adminPort, '/metrics')).body);
    // The /stats requests are on the admin port, not counted; the first /metrics read saw the priming request.
    assert.equal(metricsAfter - metricsBefore, sent);
    assert.equal(origin.count(path), 1, 'one origin fetch for the instance');
  });

  it('keeps runtime health per worker in /metrics and sums the rest', async () => {
    const text = (await send(t.adminPort, '/metrics')).body;
    const lag = text.split('\n').filter((l) => l.startsWith('nodejs_eventloop_delay_max_seconds{'));
    assert.deepEqual(lag.map((l) => /worker="(\d+)"/.exec(l)?.[1]).sort(), ['1', '2']);
    assert.match(text, /^tiercel_l1_capacity_bytes\{[^}]*\} 209715200$/m);
    assert.match(text, /^tiercel_workers\{state="serving"\} 2$/m);
  });

  it('fetches an object from the origin once for 50 concurrent misses spread over both workers (no Redis)', async () => {
    const path = '/coalesce-local';
    cacheable(origin, path, 400);
    const before = await perWorker(t);
    const rs = await Promise.all(Array.from({ length: 50 }, () => send(t.proxyPort, path)));
    assert.ok(rs.every((r) => r.status === 200 && r.body === `body of ${path}`));
    const after = await perWorker(t);
    const served = after.map((w, i) => w.hits + w.misses - (before[i]!.hits + before[i]!.misses));
    assert.ok(served.every((n) => n > 0), `both workers took some of the 50: ${served}`);
    assert.equal(origin.count(path), 1);
  });

  it('removes an object from every worker with one admin invalidation, and with one PURGE', async () => {
    const path = '/invalidate-me';
    cacheable(origin, path);
    await inEveryL1(t, path);
    const entries = async () => (await perWorker(t)).map((w) => w.l1.entries as number);
    const held = await entries();
    const inv = await send(t.adminPort, '/admin/invalidate', {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ pattern: `*${path}` }),
    });
    assert.equal(inv.status, 200, inv.body);
    assert.equal(JSON.parse(inv.body).removed.l1, 2, 'both workers\' copies');
    assert.deepEqual(await entries(), held.map((n) => n - 1), 'gone from both workers when the answer came');

    const fetched = origin.count(path);
    await inEveryL1(t, path);
    assert.equal(origin.count(path), fetched + 1, 'refetched once for the instance');
    const purge = await send(t.proxyPort, path, { method: 'PURGE' });
    assert.equal(purge.status, 200, purge.body);
    assert.equal(JSON.parse(purge.body).removed.l1, 2, purge.body);
    assert.deepEqual(await entries(), held.map((n) => n - 1));
    const again = await send(t.proxyPort, path);
    assert.match(String(again.headers['cache-status']), /fwd=uri-miss/);
  });

  it('streams both workers\' requests on one /admin/tail', async () => {
    const path = '/tailed';
    cacheable(origin, path);
    const lines: string[] = [];
    const tail = httpRequest({ host: '127.0.0.1', port: t.adminPort, path: '/admin/tail?path=/tailed', headers: { authorization: `Bearer ${TOKEN}` } });
    const opened = new Promise<number>((resolve, reject) => {
      tail.on('response', (res) => {
        res.setEncoding('utf8');
        let partial = '';
        res.on('data', (c: string) => {
          const text = partial + c;
          const parts = text.split('\n');
          partial = parts.pop()!;
          lines.push(...parts.filter(Boolean));
        });
        resolve(res.statusCode ?? 0);
      });
      tail.on('error', reject);
    });
    tail.end();
    try {
      assert.equal(await opened, 200);
      const before = await perWorker(t);
      await Promise.all(Array.from({ length: 30 }, () => send(t.proxyPort, path)));
      const after = await perWorker(t);
      const served = after.map((w, i) => w.hits + w.misses - (before[i]!.hits + before[i]!.misses));
      assert.ok(served.every((n) => n > 0), `both workers served some: ${served}`);
      await until('30 tail lines', 5000, async () => (lines.length >= 30 ? true : undefined));
      assert.equal(lines.length, 30);
      for (const l of lines) assert.equal(JSON.parse(l).path, path);
    } finally {
      tail.destroy();
    }
    const refused = await send(t.adminPort, '/admin/tail');
    assert.equal(refused.status, 401);
  });

  it('replaces a killed worker, logs and counts its death, while the other serves every request', async () => {
    const path = '/while-replacing';
    cacheable(origin, path);
    assert.equal((await send(t.proxyPort, path)).status, 200);
    const list = await perWorker(t);
    const victim = list[1]!;
    process.kill(victim.pid, 'SIGKILL');
    // From the moment the primary knows, every request is served: the other worker takes them all.
    await until('the death to be noticed', 10_000, async () => ((await stats(t)).workers.restarts === 1 ? true : undefined));
    let failed = 0;
    let served = 0;
    const replaced = until('a replacement worker', 30_000, async () => {
      const s = await stats(t);
      const w = s.workers.list[1];
      return s.workers.serving === 2 && w.pid !== victim.pid && w.state === 'serving' ? w : undefined;
    });
    let done = false;
    void replaced.finally(() => (done = true)).catch(() => {});
    const load = (async () => {
      while (!done || served < 100) {
        const r = await send(t.proxyPort, path).catch(() => null);
        if (r?.status === 200) served++;
        else failed++;
        if (served + failed > 5000) break;
      }
    })();
    const fresh = await replaced;
    await load;
    assert.equal(failed, 0, `no failed request (${served} served)`);
    assert.equal(fresh.restarts, 1);
    assert.match(t.stdout(), /"worker":2,"pid":\d+,"code":null,"signal":"SIGKILL".*"worker died: starting a replacement"/);
    assert.match((await send(t.adminPort, '/metrics')).body, /^tiercel_worker_restarts_total 1$/m);
    // The replacement serves: requests on fresh connections reach both workers again.
    const before = await perWorker(t);
    await Promise.all(Array.from({ length: 40 }, () => send(t.proxyPort, path)));
    const after = await perWorker(t);
    assert.ok(after[1]!.hits + after[1]!.misses > before[1]!.hits + before[1]!.misses, 'the replacement takes requests');
  });

  it('drains every worker on SIGTERM: an in-flight request completes, and the instance exits 0', async () => {
    const path = '/slow-at-shutdown';
    cacheable(origin, path, 700);
    const inFlight = send(t.proxyPort, path);
    await until('the fill to reach the origin', 5000, async () => (origin.count(path) > 0 ? true : undefined));
    const t0 = Date.now();
    t.child.kill('SIGTERM');
    const r = await inFlight;
    assert.equal(r.status, 200);
    const { code } = await t.exited;
    assert.equal(code, 0);
    assert.ok(Date.now() - t0 < 5000 + 3000, 'within SHUTDOWN_TIMEOUT');
    assert.match(t.stdout(), /"all workers stopped"/);
  });
});

describe('WORKERS=2 with Redis', () => {
  let origin: TestOrigin;
  let redis: RedisProcess;
  let t: TiercelProcess;

  before(async () => {
    origin = await startOrigin();
    redis = await startRedis();
    t = await spawnTiercel({ UPSTREAM_URL: origin.url, WORKERS: '2', REDIS_ENABLED: 'true', REDIS_ADDR: redis.addr, INSTANCE_ID: 'workers-redis' });
  });
  after(async () => {
    await stop(t);
    await redis?.stop();
    await origin?.close();
  });

  it('fetches an object from the origin once for 50 concurrent misses spread over both workers', async () => {
    const path = '/coalesce-redis';
    cacheable(origin, path, 400);
    const before = await perWorker(t);
    const rs = await Promise.all(Array.from({ length: 50 }, () => send(t.proxyPort, path)));
    assert.ok(rs.every((r) => r.status === 200 && r.body === `body of ${path}`));
    const after = await perWorker(t);
    const served = after.map((w, i) => w.hits + w.misses - (before[i]!.hits + before[i]!.misses));
    assert.ok(served.every((n) => n > 0), `both workers took some of the 50: ${served}`);
    assert.equal(origin.count(path), 1);
  });

  it('hears another instance\'s invalidation in every worker, and one worker\'s invalidation reaches the other instance', async () => {
    const other = await spawnTiercel({ UPSTREAM_URL: origin.url, REDIS_ENABLED: 'true', REDIS_ADDR: redis.addr, INSTANCE_ID: 'workers-redis-other', ADMIN_TOKEN: TOKEN });
    try {
      const path = '/across-instances';
      cacheable(origin, path);
      await inEveryL1(t, path);
      const held = (await perWorker(t)).map((w) => w.l1.entries as number);
      // The single-process instance gets it too (from L2), and purges it: both workers drop theirs.
      assert.equal((await send(other.proxyPort, path, { headers: { host: `127.0.0.1:${t.proxyPort}` } })).status, 200);
      const inv = await send(other.adminPort, '/admin/invalidate', {
        method: 'POST',
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ pattern: `*${path}` }),
      });
      assert.equal(inv.status, 200, inv.body);
      assert.equal(JSON.parse(inv.body).published, true);
      await until('both workers to drop it', 5000, async () => ((await perWorker(t)).every((w, i) => w.l1.entries === held[i]! - 1) ? true : undefined));

      // The other way: a PURGE on this instance's data port reaches the single-process one.
      const otherEntries = async () => JSON.parse((await send(other.adminPort, '/stats')).body).l1.entries as number;
      const before = await otherEntries();
      assert.equal((await send(other.proxyPort, path, { headers: { host: `127.0.0.1:${t.proxyPort}` } })).status, 200);
      assert.equal(await otherEntries(), before + 1);
      const purge = await send(t.proxyPort, path, { method: 'PURGE' });
      assert.equal(JSON.parse(purge.body).published, true, purge.body);
      await until('the other instance to drop it', 5000, async () => ((await otherEntries()) === before ? true : undefined));
      assert.equal((await stats(t)).bus.gapFlushes, 0, 'no worker took its siblings\' messages for lost ones');
    } finally {
      await stop(other);
    }
  });
});

describe('WORKERS: configuration and reloads', () => {
  it('refuses WORKERS=0 and WORKERS=many in one line, before any worker starts', async () => {
    for (const v of ['0', 'many', '999']) {
      const r = await runTiercel({ UPSTREAM_URL: 'http://127.0.0.1:9', WORKERS: v });
      assert.equal(r.code, 1);
      const lines = r.stderr.trim().split('\n');
      assert.equal(lines.length, 1, r.stderr);
      assert.match(lines[0]!, /^tiercel: invalid WORKERS=/);
      assert.doesNotMatch(r.stdout, /worker started/);
    }
  });

  it('names a data port or admin port in use in one line, before any worker starts', async () => {
    const { createServer } = await import('node:net');
    const busy = createServer();
    await new Promise<void>((r) => busy.listen(0, '127.0.0.1', r));
    const port = String((busy.address() as { port: number }).port);
    try {
      for (const [variable, env] of [['PROXY_PORT', { PROXY_PORT: port }], ['ADMIN_PORT', { ADMIN_PORT: port }]] as const) {
        const r = await runTiercel({ UPSTREAM_URL: 'http://127.0.0.1:9', WORKERS: '2', ...env });
        assert.equal(r.code, 1);
        const lines = r.stderr.trim().split('\n');
        assert.equal(lines.length, 1, r.stderr);
        assert.equal(lines[0], `tiercel: ${variable}: 127.0.0.1:${port} is already in use`);
        assert.doesNotMatch(r.stdout, /worker started/, 'refused before any worker starts');
      }
    } finally {
      busy.close();
    }
  });

  it('takes WORKERS=auto as the available cores', async () => {
    const origin = await startOrigin();
    const t = await spawnTiercel({ UPSTREAM_URL: origin.url, WORKERS: 'auto' });
    try {
      const line = JSON.parse(t.stdout().split('\n').find((l) => l.includes('"tiercel started"'))!);
      const { availableParallelism } = await import('node:os');
      assert.ok(line.workers === undefined ? availableParallelism() === 1 : line.workers >= 1 && line.workers <= availableParallelism());
    } finally {
      await stop(t);
      await origin.close();
    }
  });

  it('leaves every worker on the old policy when a reload fails, and moves them all when it works', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tiercel-workers-'));
    const file = join(dir, 'tiercel.yaml');
    writeFileSync(file, 'rules:\n  - name: first\n    match: { path: "/a/*" }\n    ttl: 60s\n');
    const origin = await startOrigin();
    const t = await spawnTiercel({ UPSTREAM_URL: origin.url, WORKERS: '2', TIERCEL_CONFIG: file, ADMIN_TOKEN: TOKEN });
    const hashes = async () => [...new Set((await perWorker(t)).map((w) => w.policy as string))];
    try {
      const [old] = await hashes();
      assert.ok(old);
      writeFileSync(file, 'rules:\n  - name: [broken\n');
      t.child.kill('SIGHUP');
      await until('the refusal to be logged', 5000, async () => (/SIGHUP: policy refused; every worker keeps what it had/.test(t.stdout()) ? true : undefined));
      assert.deepEqual(await hashes(), [old], 'one policy in force, the old one, in both workers');
      const viaAdmin = await send(t.adminPort, '/admin/reload', { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } });
      assert.equal(viaAdmin.status, 422);
      assert.deepEqual(await hashes(), [old]);

      writeFileSync(file, 'rules:\n  - name: second\n    match: { path: "/b/*" }\n    ttl: 30s\n');
      const ok = await send(t.adminPort, '/admin/reload', { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } });
      assert.equal(ok.status, 200, ok.body);
      const now = await hashes();
      assert.equal(now.length, 1, `both workers on one policy: ${now}`);
      assert.notEqual(now[0], old);
    } finally {
      await stop(t);
      await origin.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

function getOn(agent: Agent, port: number, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, agent, timeout: 15_000 });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.on('response', (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
      res.on('error', reject);
    });
    req.end();
  });
}

function requestsTotal(text: string): number {
  let n = 0;
  for (const l of text.split('\n')) {
    const m = /^tiercel_requests_total\{[^}]*\} (\S+)$/.exec(l);
    if (m) n += Number(m[1]);
  }
  return n;
}
