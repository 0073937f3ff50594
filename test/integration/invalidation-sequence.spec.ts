// Pub/Sub is fire-and-forget; the invalidation sequence in Redis makes a lost message safe by
// design: every instance stops serving an invalidated object within 2 s of the admin's 200, or
// reports itself degraded.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { uniquePath } from '../support/fixture';
import { assertHit, eventually, HOST, invalidate, keyOf, ON_HOST, Relay, sleep, startRelay, TOKEN, versioned, waitForL2 } from '../support/l2';
import { startOrigin, TestOrigin } from '../support/origin';
import { RedisProcess, startRedis } from '../support/redis';
import { reverseProxy, TestProxy } from '../support/tiercel';

describe('the invalidation sequence', () => {
  let redis: RedisProcess;
  let origin: TestOrigin;
  let relayA: Relay;
  let relayB: Relay;
  let a: TestProxy;
  let b: TestProxy;

  before(async () => {
    redis = await startRedis();
    origin = await startOrigin();
    relayA = await startRelay(redis.port);
    relayB = await startRelay(redis.port);
    const env = { REDIS_ENABLED: 'true', ADMIN_TOKEN: TOKEN, REDIS_TIMEOUT: '250ms' };
    a = await reverseProxy(origin.url, { ...env, REDIS_ADDR: relayA.addr, INSTANCE_ID: 'seq-a' });
    b = await reverseProxy(origin.url, { ...env, REDIS_ADDR: relayB.addr, INSTANCE_ID: 'seq-b' });
  });
  after(async () => {
    await a?.close();
    await b?.close();
    await relayA?.close();
    await relayB?.close();
    await origin?.close();
    await redis?.stop();
  });

  async function cachedOnBoth(path: string): Promise<void> {
    versioned(origin, path);
    await a.get(path, ON_HOST);
    await waitForL2(redis.client(), path);
    assertHit(await b.get(path, ON_HOST), 'l2', `${path} v1`);
    assertHit(await b.get(path, ON_HOST), 'l1', `${path} v1`);
  }

  it('a lost message: the sequence moved without one, and B flushes within 2 s', async () => {
    const path = uniquePath('seq-lost');
    await cachedOnBoth(path);
    // What an instance whose PUBLISH was lost leaves behind: the object gone from L2, the sequence moved on.
    const probe = redis.client();
    await probe.unlink(keyOf(path));
    await probe.incr('tiercel:invalidation:seq');
    const ms = await eventually(async () => (await b.get(path, ON_HOST)).body === `${path} v2`, 2000, 'B to stop serving the invalidated object').catch(async (e) => {
      throw new Error(`${e.message}: ${JSON.stringify((await b.stats()).bus)} seq=${await probe.get('tiercel:invalidation:seq')}`);
    });
    console.log(`[measured] lost invalidation message: B stopped serving the object after ${ms} ms`);
    assert.ok((await b.stats()).bus.gapFlushes >= 1);
    probe.disconnect();
  });

  it('a sender whose Redis link is slower than REDIS_TIMEOUT: B stops serving within 2 s of the admin\'s 200', async () => {
    const path = uniquePath('seq-slow-sender');
    await cachedOnBoth(path);
    relayA.delay(300);
    try {
      const r = await invalidate(a, { urls: [`${HOST}${path}`] });
      assert.equal(r.status, 200, r.body);
      const ms = await eventually(async () => (await b.get(path, ON_HOST)).body !== `${path} v1`, 2000, 'B to stop serving the invalidated object');
      console.log(`[measured] slow sender link (300 ms): answer ${r.body}; B stopped serving after ${ms} ms`);
    } finally {
      relayA.delay(0);
    }
  });

  it('an instance that cannot read the sequence says so in /readyz and /stats', async () => {
    relayB.delay(400);
    try {
      await eventually(async () => JSON.parse((await b.admin('/readyz')).body).invalidation === 'degraded', 4000, 'B to report the invalidation bus degraded');
      assert.equal((await b.stats()).bus.state, 'degraded');
    } finally {
      relayB.delay(0);
    }
    await eventually(async () => JSON.parse((await b.admin('/readyz')).body).invalidation === 'ok', 4000, 'B to recover');
    await sleep(10);
  });
});
