// What an operator sees at start and on signals: ports open without Redis, one line for each
// mistake, SIGHUP does not stop the process, an old Node says so.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
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
