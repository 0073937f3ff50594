// What an operator sees at start and on signals: ports open without Redis, one line for each
// mistake, SIGHUP does not stop the process, an old Node says so.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { send, sleep } from '../support/client';
import { MAIN, runTiercel, spawnTiercel, TiercelProcess } from '../support/process';
import { freePort } from '../support/redis';

async function stop(t: TiercelProcess): Promise<void> {
  t.child.kill('SIGTERM');
  await t.exited;
}

describe('start-up never waits on Redis', () => {
  for (const [name, env] of [
    ['REDIS_ADDR at nothing', (port: number) => ({ REDIS_ENABLED: 'true', REDIS_ADDR: `127.0.0.1:${port}` })],
    ['REDIS_SENTINELS at nothing', (port: number) => ({ REDIS_SENTINELS: `127.0.0.1:${port}`, REDIS_SENTINEL_MASTER: 'mymaster' })],
  ] as const) {
    it(`${name}: both ports answer within 2 s and /readyz says l2 degraded`, async () => {
      const port = await freePort();
      const started = Date.now();
      const t = await spawnTiercel({ ...env(port), UPSTREAM_URL: 'http://127.0.0.1:9' });
      try {
        const ready = await send(t.adminPort, '/readyz');
        assert.ok(Date.now() - started < 2000 + 1500, `started in ${Date.now() - started} ms`);
        assert.equal(ready.status, 200);
        assert.equal(JSON.parse(ready.body).l2, 'degraded');
        const data = await send(t.proxyPort, '/x', { headers: { host: 'a.test' } });
        assert.equal(data.status, 502, 'the data port answers (its origin is away)');
      } finally {
        await stop(t);
      }
    });
  }

  it('joins Redis when it comes, and resubscribes to invalidations with a resync', async () => {
    const port = await freePort();
    const t = await spawnTiercel({ REDIS_ENABLED: 'true', REDIS_ADDR: `127.0.0.1:${port}`, UPSTREAM_URL: 'http://127.0.0.1:9' });
    // Past the first second, objects may have been stored while messages were missed.
    await sleep(1300);
    const again = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
    try {
      for (let i = 0; ; i++) {
        const ready = JSON.parse((await send(t.adminPort, '/readyz')).body);
        const stats = JSON.parse((await send(t.adminPort, '/stats')).body);
        if (ready.l2 === 'ok' && stats.bus?.resyncs >= 1) break;
        if (i > 100) throw new Error(`L2 never joined: ${JSON.stringify({ ready, bus: stats.bus })}`);
        await sleep(50);
      }
    } finally {
      await stop(t);
      again.kill('SIGKILL');
    }
  });
});

describe('one line for each mistake', () => {
  it('a port in use names the variable and the address', async () => {
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const port = (blocker.address() as { port: number }).port;
    try {
      for (const name of ['PROXY_PORT', 'ADMIN_PORT']) {
        const r = await runTiercel({ [name]: String(port) });
        assert.equal(r.code, 1);
        const lines = r.stderr.trim().split('\n');
        assert.equal(lines.length, 1, r.stderr);
        assert.match(lines[0]!, new RegExp(`^tiercel: ${name}: 127\\.0\\.0\\.1:${port} is already in use$`));
        assert.doesNotMatch(r.stdout, /listening|tiercel started/, 'a port was announced although start-up failed');
      }
    } finally {
      blocker.close();
    }
  });

  it('an invalid OTEL_TRACES_SAMPLER or OTEL_TRACES_SAMPLER_ARG stops start-up', async () => {
    for (const env of [{ OTEL_TRACES_SAMPLER: 'sometimes' } as Record<string, string>, { OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '1.5' }, { OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: 'ten percent' }]) {
      const r = await runTiercel(env);
      assert.equal(r.code, 1, JSON.stringify(env));
      const lines = r.stderr.trim().split('\n');
      assert.equal(lines.length, 1, r.stderr);
      assert.match(lines[0]!, /OTEL_TRACES_SAMPLER/);
    }
  });

  it('a misspelled variable is warned about, naming the closest known one', async () => {
    const t = await spawnTiercel({ CACHE_SIZEMB: '5', REDIS_ADR: '127.0.0.1:1' });
    try {
      await sleep(100);
      const out = t.stdout();
      assert.match(out, /unknown variable CACHE_SIZEMB is ignored: did you mean CACHE_SIZE_MB\?/);
      assert.match(out, /unknown variable REDIS_ADR is ignored: did you mean REDIS_ADDR\?/);
    } finally {
      await stop(t);
    }
  });

  it('an older Node says Node 24 is needed, in one line', () => {
    const old = ['/usr/bin/node', '/usr/local/bin/node'].map((p) => spawnSync(p, ['--version'], { encoding: 'utf8' })).find((r) => r.status === 0 && !/^v2[4-9]/.test(r.stdout));
    if (old === undefined) return; // no older Node on this machine to try
    const node = ['/usr/bin/node', '/usr/local/bin/node'].find((p) => spawnSync(p, ['--version'], { encoding: 'utf8' }).stdout === old.stdout)!;
    const r = spawnSync(node, [MAIN], { encoding: 'utf8', env: { PATH: process.env.PATH } });
    assert.equal(r.status, 1);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, /^tiercel: Node\.js 24 or later is needed, this is v\d+/);
  });
});

describe('signals', () => {
  let t: TiercelProcess;
  before(async () => {
    t = await spawnTiercel({});
  });
  after(() => stop(t));

  it('SIGHUP is logged and does not stop the process', async () => {
    t.child.kill('SIGHUP');
    await sleep(200);
    assert.equal(t.child.exitCode, null);
    assert.equal((await send(t.adminPort, '/healthz')).status, 200);
    assert.match(t.stdout(), /SIGHUP received/);
  });
});

describe('what the log says', () => {
  it('an origin failure is one warning line, without a stack trace', async () => {
    const closed = await freePort();
    const t = await spawnTiercel({ UPSTREAM_URL: `http://127.0.0.1:${closed}` });
    try {
      const r = await send(t.proxyPort, '/x', { headers: { host: 'a.test' } });
      assert.equal(r.status, 502);
      await sleep(100);
      const lines = t.stdout().split('\n').filter((l) => l.includes('upstream request failed'));
      assert.equal(lines.length, 1, t.stdout());
      const line = JSON.parse(lines[0]!);
      assert.equal(line.level, 'warn');
      assert.equal(line.reason, 'connect-error');
      assert.doesNotMatch(lines[0]!, /"stack"|\\n\s+at /);
    } finally {
      await stop(t);
    }
  });

  it('the L2 breaker opening says why', async () => {
    const closed = await freePort();
    const t = await spawnTiercel({ UPSTREAM_URL: 'http://127.0.0.1:9', REDIS_ENABLED: 'true', REDIS_ADDR: `127.0.0.1:${closed}`, REDIS_BREAKER_THRESHOLD: '2' });
    try {
      for (let i = 0; i < 4; i++) await send(t.proxyPort, `/b${i}`, { headers: { host: 'a.test' } });
      await sleep(100);
      const line = t.stdout().split('\n').find((l) => l.includes('L2 circuit breaker open'));
      assert.ok(line, t.stdout());
      assert.match(JSON.parse(line).cause ?? '', /\w/);
    } finally {
      await stop(t);
    }
  });
});

describe('npm start', () => {
  it('SIGTERM to the npm process stops Tiercel', async () => {
    const npm = spawn('npm', ['start', '--silent'], {
      cwd: join(__dirname, '../../..'),
      env: { ...process.env, PROXY_PORT: '0', ADMIN_PORT: '0', LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: false,
    });
    let out = '';
    npm.stdout.on('data', (d) => (out += d));
    const exited = new Promise<number | null>((r) => npm.once('exit', (code) => r(code)));
    for (let i = 0; !out.includes('"tiercel started"'); i++) {
      if (i > 300) throw new Error(`npm start did not start Tiercel: ${out}`);
      await sleep(50);
    }
    const adminPort = JSON.parse(out.split('\n').find((l) => l.includes('"tiercel started"'))!).adminPort;
    assert.equal((await send(adminPort, '/healthz')).status, 200);
    npm.kill('SIGTERM');
    await exited;
    // The node process itself is gone: its admin port no longer answers.
    for (let i = 0; ; i++) {
      const alive = await send(adminPort, '/healthz', { timeoutMs: 500 }).then(() => true, () => false);
      if (!alive) break;
      if (i > 60) throw new Error('Tiercel kept running after npm start was stopped');
      await sleep(50);
    }
  });
});
