import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { uniquePath } from '../support/fixture';
import { cacheStatus, ON_HOST, twoInstances } from '../support/l2';
import { startOrigin, TestOrigin } from '../support/origin';
import { RedisProcess, startRedis } from '../support/redis';
import type { TestProxy } from '../support/tiercel';

const ORIGIN_MS = 300;
const LEASE_MS = 3000;

describe('cross-instance coalescing through a Redis lease', () => {
  let redis: RedisProcess;
  let origin: TestOrigin;
  let a: TestProxy;
  let b: TestProxy;

  before(async () => {
    redis = await startRedis();
    origin = await startOrigin();
    ({ a, b } = await twoInstances(origin, { REDIS_ENABLED: 'true', REDIS_ADDR: redis.addr, REDIS_LEASE_TTL: `${LEASE_MS}ms` }));
  });
  after(async () => {
    await a?.close();
    await b?.close();
    await origin?.close();
    await redis?.stop();
  });

  /** A route that answers `<path> v<n>` after ORIGIN_MS with the given Cache-Control; returns when each request arrived. */
  function slowRoute(path: string, cacheControl: string): number[] {
    let n = 0;
    const arrivals: number[] = [];
    origin.handle(path, (_req, res) => {
      const v = ++n;
      arrivals.push(performance.now());
      setTimeout(() => {
        res.writeHead(200, { 'content-type': 'text/plain', 'cache-control': cacheControl });
        res.end(`${path} v${v}`);
      }, ORIGIN_MS);
    });
    return arrivals;
  }

  it('50 concurrent misses on one slow cacheable URL, spread over two instances, reach the origin about once', async () => {
    const path = uniquePath('co-cacheable');
    const arrivals = slowRoute(path, 'max-age=60');
    const started = performance.now();
    const responses = await Promise.all(Array.from({ length: 50 }, (_, i) => (i % 2 === 0 ? a : b).get(path, ON_HOST)));
    const wall = performance.now() - started;
    const fetched = origin.count(path);
    console.log(`[measured] coalescing: 50 concurrent misses over 2 instances -> ${fetched} origin request(s) in ${wall.toFixed(0)} ms`);

    assert.ok(fetched >= 1 && fetched <= 2, `origin saw ${fetched} requests`);
    const bodies = new Set(Array.from({ length: fetched }, (_, i) => `${path} v${i + 1}`));
    for (const r of responses) {
      assert.equal(r.status, 200);
      assert.ok(bodies.has(r.body), `unexpected body ${r.body}`);
      assert.equal(r.headers['content-type'], 'text/plain');
    }
    const statuses = responses.map(cacheStatus);
    const leaders = statuses.filter((s) => /^tiercel; fwd=uri-miss; fwd-status=200; stored; ttl=\d+$/.test(s));
    assert.equal(leaders.length, fetched, `responses that fetched: ${leaders.length}\n${statuses.join('\n')}`);
    for (const s of statuses) assert.match(s, /; stored; ttl=|; collapsed; |; hit; detail=l[12]/);
    // The instance without the lease served the other instance's fill, taken from L2.
    const fromL2 = statuses.filter((s) => /collapsed;.*detail=l2/.test(s)).length;
    if (fetched === 1) assert.ok(fromL2 >= 1, `no request waited on the other instance's fill:\n${statuses.join('\n')}`);
    // A second fetch can only come from the instance that lost the lease, after the holder's
    // fetch ended (its fill raced the lease's release): never concurrently with the first.
    if (fetched === 2) {
      const gap = arrivals[1]! - arrivals[0]!;
      assert.ok(gap >= ORIGIN_MS - 20, `both instances fetched at once (${gap.toFixed(0)} ms apart): the lease did not hold the other off`);
    }
    // Nobody waited for the lease to run out.
    assert.ok(wall < ORIGIN_MS * 2 + 700, `took ${wall.toFixed(0)} ms`);

    const sa = await a.stats();
    const sb = await b.stats();
    assert.equal(sa.coalesced + sb.coalesced, 50 - fetched);
  });

  it('an uncacheable URL is not serialised across instances beyond the lease, and not at all once known', async () => {
    const path = uniquePath('co-uncacheable');
    slowRoute(path, 'no-store');
    const round = async () => {
      const t0 = performance.now();
      const rs = await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 === 0 ? a : b).get(path, ON_HOST)));
      return { rs, wall: performance.now() - t0 };
    };

    // First round: neither instance knows the URL is uncacheable. At worst the other instance
    // waits for the lease holder's fetch, then fetches itself: never until the lease expires.
    const first = await round();
    const max1 = Math.max(...first.rs.map((r) => r.ms));
    assert.equal(origin.count(path), 10, 'an uncacheable response is never shared');
    const bodies = new Set(first.rs.map((r) => r.body));
    assert.equal(bodies.size, 10, 'each request got its own fetch');
    for (const r of first.rs) {
      assert.equal(r.status, 200);
      assert.match(r.body, new RegExp(`^${path} v\\d+$`));
      assert.doesNotMatch(cacheStatus(r), /; stored|; hit/);
    }
    assert.ok(max1 < ORIGIN_MS * 3 + 400 && max1 < LEASE_MS, `first round: slowest ${max1.toFixed(0)} ms`);

    // Second round: both instances remember it as pass, so requests go to the origin in parallel.
    const second = await round();
    const max2 = Math.max(...second.rs.map((r) => r.ms));
    console.log(`[measured] uncacheable over 2 instances, 10 concurrent: first round slowest ${max1.toFixed(0)} ms, second round slowest ${max2.toFixed(0)} ms (origin ${ORIGIN_MS} ms)`);
    assert.equal(origin.count(path), 20);
    for (const r of second.rs) {
      assert.equal(r.status, 200);
      assert.match(cacheStatus(r), /detail=hit-for-pass/);
    }
    assert.ok(max2 < ORIGIN_MS * 2, `second round: slowest ${max2.toFixed(0)} ms`);
  });
});
