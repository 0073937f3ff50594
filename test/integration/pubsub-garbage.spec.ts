// Anyone who can reach Redis can publish on the invalidation channel. No message, whatever its
// shape or size, may crash an instance or touch its cache; each is ignored and counted.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { uniquePath } from '../support/fixture';
import { invalidate, ON_HOST, sleep, twoInstances } from '../support/l2';
import { startOrigin, TestOrigin } from '../support/origin';
import { RedisProcess, startRedis } from '../support/redis';
import type { TestProxy } from '../support/tiercel';
import { spawnTiercel, TiercelProcess } from '../support/process';

const GARBAGE = [
  'null', '0', '42', '-1e308', 'true', '"a string"', '[]', '[1,2,3]', '{}', 'not json at all', '',
  '{"target":null}', '{"target":{"kind":"urls","keys":"x"},"from":"z"}', '{"target":{"kind":"urls","keys":[1,2]},"from":"z"}',
  '{"target":{"kind":"pattern","pattern":{}},"from":"z"}', '{"target":{"kind":"evict"},"from":"z"}', '{"target":{"kind":"all"}}',
  '{"target":{"kind":"all"},"from":{"toString":1}}', '{"target":{"kind":"all"},"from":"z","soft":"yes"}', '{"__proto__":{"kind":"all"},"from":"z"}',
  JSON.stringify({ target: { kind: 'urls', keys: ['x'] }, from: 'z', pad: 'x'.repeat(2 * 1024 * 1024) }),
];

describe('garbage on the invalidation channel', () => {
  let redis: RedisProcess;
  let origin: TestOrigin;
  let a: TestProxy;
  let b: TestProxy;
  let p: TiercelProcess;

  before(async () => {
    redis = await startRedis();
    origin = await startOrigin();
    ({ a, b } = await twoInstances(origin, { REDIS_ENABLED: 'true', REDIS_ADDR: redis.addr }));
    // One instance as a process of its own: a crash there is an exit, not a test failure elsewhere.
    p = await spawnTiercel({ REDIS_ENABLED: 'true', REDIS_ADDR: redis.addr, UPSTREAM_URL: origin.url, INSTANCE_ID: 'garbage-p' });
  });
  after(async () => {
    p?.child.kill('SIGTERM');
    await p?.exited;
    await a?.close();
    await b?.close();
    await origin?.close();
    await redis?.stop();
  });

  it(`${GARBAGE.length} hostile messages are ignored and counted; the cache keeps working and real invalidations still arrive`, async () => {
    const path = uniquePath('pubsub');
    let n = 0;
    origin.handle(path, (_req, res) => {
      res.writeHead(200, { 'cache-control': 'max-age=60' });
      res.end(`v${++n}`);
    });
    assert.equal((await b.get(path, ON_HOST)).body, 'v1');
    const pub = redis.client();
    for (const m of GARBAGE) await pub.publish('tiercel:invalidate', m);
    await sleep(300);
    assert.equal(p.child.exitCode, null, `the process exited: ${p.stderr()}`);
    const stats = await b.stats();
    assert.equal(stats.bus.ignored, GARBAGE.length);
    assert.equal(stats.invalidationsReceived, 0);
    assert.match(String((await b.get(path, ON_HOST)).headers['cache-status']), /; hit;/, 'garbage touched the cache');
    const r = await invalidate(a, { urls: [`http://${ON_HOST.headers.host}${path}`] });
    assert.equal(r.status, 200, r.body);
    for (let i = 0; (await b.stats()).invalidationsReceived < 1; i++) {
      if (i > 100) throw new Error('the real invalidation never arrived');
      await sleep(20);
    }
    assert.equal((await b.get(path, ON_HOST)).body, 'v2');
    pub.disconnect();
  });
});
