// docs/deployment.md's migration path, with real processes: Tiercel in-memory only, then
// restarted with REDIS_ENABLED=true and REDIS_ADDR, as two instances sharing one Redis, until
// the L2 series and counters appear.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ClientResponse, send } from '../support/client';
import { startOrigin, TestOrigin } from '../support/origin';
import { spawnTiercel, TiercelProcess } from '../support/process';
import { RedisProcess, startRedis } from '../support/redis';
import { waitFor } from '../support/deployment';

/** Behind a load balancer every instance sees the same Host, which is part of the cache key. */
const ON_HOST = { headers: { host: 'shop.example.com' } };

const stats = async (t: TiercelProcess) => JSON.parse((await send(t.adminPort, '/stats')).body) as Record<string, any>;
const readyz = async (t: TiercelProcess) => JSON.parse((await send(t.adminPort, '/readyz')).body) as { l2: string };
const metrics = async (t: TiercelProcess) => (await send(t.adminPort, '/metrics')).body;
/** The value of tiercel_requests_total for one tier and outcome, or null when the series is absent. */
function requests(text: string, tier: string, outcome: string): number | null {
  for (const line of text.split('\n')) {
    if (!line.startsWith('tiercel_requests_total{')) continue;
    if (line.includes(`tier="${tier}"`) && line.includes(`outcome="${outcome}"`)) return Number(line.split(' ').pop());
  }
  return null;
}
const cacheStatus = (r: ClientResponse) => String(r.headers['cache-status'] ?? '');

async function stop(t: TiercelProcess | undefined): Promise<void> {
  if (!t || t.child.exitCode !== null || t.child.signalCode !== null) return;
  t.child.kill('SIGTERM');
  const { code } = await t.exited;
  assert.equal(code, 0, t.stderr());
}

describe('migration: in-memory only, then Redis as L2 (docs/deployment.md)', () => {
  let origin: TestOrigin;
  let redis: RedisProcess;
  let solo: TiercelProcess | undefined;
  let a: TiercelProcess | undefined;
  let b: TiercelProcess | undefined;

  before(async () => {
    origin = await startOrigin();
    for (const p of ['/products/1', '/products/2']) {
      origin.handle(p, (_req, res) => {
        res.writeHead(200, { 'cache-control': 'public, max-age=60', 'content-type': 'application/json' });
        res.end(JSON.stringify({ path: p }));
      });
    }
  });
  after(async () => {
    for (const t of [solo, a, b]) if (t && t.child.exitCode === null) t.child.kill('SIGKILL');
    await origin?.close();
    await redis?.stop();
  });

  it('step 1: without Redis, L1 only: /readyz says l2 disabled, no L2 series or hits', async () => {
    solo = await spawnTiercel({ UPSTREAM_URL: origin.url, INSTANCE_ID: 'tiercel-1' });
    const miss = await send(solo.proxyPort, '/products/1', ON_HOST);
    const hit = await send(solo.proxyPort, '/products/1', ON_HOST);
    assert.equal(miss.headers['x-cache'], 'MISS');
    assert.match(cacheStatus(hit), /^tiercel; hit; detail=l1;/);
    assert.equal((await readyz(solo)).l2, 'disabled');
    const s = await stats(solo);
    assert.equal(s.l1Hits, 1);
    assert.equal(s.l2Hits, 0);
    assert.equal(s.l2, null);
    const m = await metrics(solo);
    assert.equal(requests(m, 'l1', 'hit'), 1);
    assert.doesNotMatch(m, /^tiercel_requests_total\{[^}]*tier="l2"/m, 'no L2 series without Redis');
    assert.doesNotMatch(m, /^tiercel_redis_memory_used_bytes/m);
    await stop(solo);
  });

  it('step 2: restarted with REDIS_ENABLED=true and REDIS_ADDR as two instances: the second serves the first one’s fill from L2', async () => {
    redis = await startRedis();
    const env = { UPSTREAM_URL: origin.url, REDIS_ENABLED: 'true', REDIS_ADDR: redis.addr };
    a = await spawnTiercel({ ...env, INSTANCE_ID: 'tiercel-1' });
    b = await spawnTiercel({ ...env, INSTANCE_ID: 'tiercel-2' });
    for (const t of [a, b]) await waitFor('l2 ok on /readyz', async () => (await readyz(t)).l2 === 'ok', 10_000);

    const before = origin.count('/products/2');
    const fill = await send(a.proxyPort, '/products/2', ON_HOST);
    assert.equal(fill.headers['x-cache'], 'MISS');
    // The L2 write happens after the response; the key appears in Redis shortly after.
    const probe = redis.client();
    await waitFor('the object in Redis', async () => (await probe.keys('tiercel:*products/2*')).length > 0, 5000, 20);

    const fromL2 = await send(b.proxyPort, '/products/2', ON_HOST);
    assert.match(cacheStatus(fromL2), /^tiercel; hit; detail=l2;/);
    assert.equal(fromL2.body, JSON.stringify({ path: '/products/2' }));
    const fromL1 = await send(b.proxyPort, '/products/2', ON_HOST);
    assert.match(cacheStatus(fromL1), /^tiercel; hit; detail=l1;/);
    assert.equal(origin.count('/products/2') - before, 1, 'the origin was asked once for both instances');

    // What the dashboards and /stats show once L2 is on.
    const sb = await stats(b);
    assert.equal(sb.l2Hits, 1);
    assert.equal(sb.l1Hits, 1);
    assert.equal(sb.l2.errors, 0);
    const mb = await metrics(b);
    assert.equal(requests(mb, 'l2', 'hit'), 1, 'tiercel_requests_total{tier="l2",outcome="hit"}');
    assert.equal(requests(mb, 'l1', 'hit'), 1);
    assert.match(mb, /^tiercel_cache_lookup_duration_seconds_bucket\{[^}]*tier="l2"/m, 'L2 lookup latency');
    assert.match(mb, /^tiercel_redis_memory_used_bytes\{[^}]*\} \d+/m, 'Redis memory, read by Tiercel');
    const ma = await metrics(a);
    assert.equal(requests(ma, 'origin', 'miss'), 1);
    assert.equal((await stats(a)).l2Misses, 1);
    probe.disconnect();
  });

  it('step 3: both instances stop cleanly', async () => {
    await stop(a);
    await stop(b);
  });
});
