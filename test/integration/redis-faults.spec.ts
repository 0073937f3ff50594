import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { ClientResponse } from '../support/client';
import { assertHit, assertMiss, eventually, HOST, ON_HOST, sleep, twoInstances, waitForL2 } from '../support/l2';
import { startOrigin, TestOrigin } from '../support/origin';
import { RedisProcess, startRedis } from '../support/redis';
import type { TestProxy } from '../support/tiercel';

const REDIS_TIMEOUT_MS = 250;
const ORIGIN_MS = 40;
/** Scheduling, connection set-up and a loaded 2-core machine running other test files. */
const ALLOWANCE_MS = 200;
const BOUND_MS = REDIS_TIMEOUT_MS + ORIGIN_MS + ALLOWANCE_MS;

/** Every path answers `<path> ok` after ORIGIN_MS, cacheable for a minute. */
async function slowishOrigin(): Promise<TestOrigin> {
  return startOrigin((req, res) => {
    setTimeout(() => {
      res.writeHead(200, { 'content-type': 'text/plain', 'cache-control': 'max-age=60' });
      res.end(`${req.url} ok`);
    }, ORIGIN_MS);
  });
}

interface Outcome {
  path: string;
  at: number;
  r?: ClientResponse;
  error?: Error;
}

function check(outcomes: Outcome[]): { max: number; failed: Outcome[] } {
  const failed = outcomes.filter((o) => o.error !== undefined || o.r!.status !== 200 || o.r!.body !== `${o.path} ok`);
  const max = Math.max(...outcomes.filter((o) => o.r).map((o) => o.r!.ms));
  return { max, failed };
}

function describeFailures(failed: Outcome[]): string {
  return failed.slice(0, 5).map((o) => `${o.path}: ${o.error?.message ?? `${o.r!.status} ${o.r!.body.slice(0, 80)}`}`).join('; ');
}

function slowest(outcomes: Outcome[]): string {
  return outcomes
    .filter((o) => o.r)
    .sort((x, y) => y.r!.ms - x.r!.ms)
    .slice(0, 5)
    .map((o) => `${o.path} at ${o.at} ms took ${o.r!.ms.toFixed(0)} ms (${o.r!.headers['cache-status']})`)
    .join('; ');
}

let seq = 0;
const fresh = (name: string) => `/${name}-${process.pid}-${++seq}`;

describe('L2 faults: Redis killed or frozen', () => {
  let origin: TestOrigin;
  before(async () => {
    origin = await slowishOrigin();
  });
  after(async () => {
    await origin?.close();
  });

  describe('Redis killed (SIGKILL) mid-traffic', () => {
    let redis: RedisProcess;
    let a: TestProxy;
    let b: TestProxy;
    before(async () => {
      redis = await startRedis();
      ({ a, b } = await twoInstances(origin, { REDIS_ENABLED: 'true', REDIS_ADDR: redis.addr, REDIS_TIMEOUT: `${REDIS_TIMEOUT_MS}ms` }));
    });
    after(async () => {
      await a?.close();
      await b?.close();
      await redis?.stop();
    });

    it('no request fails and none is slower than REDIS_TIMEOUT + origin time + a small allowance', async () => {
      // Objects stored by A that B will look up in L2 (B's L1 does not have them).
      const shared = Array.from({ length: 60 }, () => fresh('kill-shared'));
      for (const p of shared) assertMiss(await a.get(p, ON_HOST), `${p} ok`);
      const client = redis.client();
      await waitForL2(client, shared.at(-1)!);

      const outcomes: Outcome[] = [];
      const started = Date.now();
      const killAt = 600;
      let killed = false;
      const worker = async (w: number) => {
        for (let i = 0; Date.now() - started < 1800; i++) {
          // Alternate: B reading A's objects through L2, and new URLs (L2 miss, lease, L2 write).
          const proxy = (w + i) % 2 === 0 ? b : a;
          const path = proxy === b && shared.length > 0 ? shared.pop()! : fresh('kill-new');
          const o: Outcome = { path, at: Date.now() - started };
          try {
            o.r = await proxy.get(path, ON_HOST);
          } catch (err) {
            o.error = err as Error;
          }
          outcomes.push(o);
        }
      };
      const killer = (async () => {
        await sleep(killAt);
        redis.signal('SIGKILL');
        killed = true;
      })();
      await Promise.all([killer, ...Array.from({ length: 6 }, (_, w) => worker(w))]);
      assert.ok(killed);

      const { max, failed } = check(outcomes);
      const afterKill = outcomes.filter((o) => o.at >= killAt);
      console.log(`[measured] redis SIGKILL: ${outcomes.length} requests (${afterKill.length} after the kill), ${failed.length} failed, max latency ${max.toFixed(0)} ms (bound ${BOUND_MS} ms)`);
      assert.equal(failed.length, 0, describeFailures(failed));
      assert.ok(afterKill.length >= 20, `only ${afterKill.length} requests after the kill`);
      assert.ok(max <= BOUND_MS, `too slow: ${slowest(outcomes)}`);

      const stats = await a.stats();
      assert.notEqual(stats.l2.connection, 'ready');
      assert.ok(stats.l2.errors + stats.l2.skipped > 0, JSON.stringify(stats.l2));
      const ready = await a.admin('/readyz');
      assert.equal(ready.status, 200);
      const { invalidation, ...readiness } = JSON.parse(ready.body);
      assert.deepEqual(readiness, { status: 'ready', l1: 'ok', l2: 'degraded' });
      // Whether the invalidation sequence has been unreadable for long enough to say so depends on when this runs.
      assert.match(invalidation, /^(ok|degraded)$/);
      // Served from L1 and the origin meanwhile.
      const p = fresh('kill-after');
      assertMiss(await a.get(p, ON_HOST), `${p} ok`);
      assertHit(await a.get(p, ON_HOST), 'l1', `${p} ok`);
    });
  });

  describe('Redis frozen (SIGSTOP), then thawed (SIGCONT)', () => {
    let redis: RedisProcess;
    let a: TestProxy;
    let b: TestProxy;
    before(async () => {
      redis = await startRedis();
      ({ a, b } = await twoInstances(origin, {
        REDIS_ENABLED: 'true',
        REDIS_ADDR: redis.addr,
        REDIS_TIMEOUT: `${REDIS_TIMEOUT_MS}ms`,
        REDIS_BREAKER_THRESHOLD: '5',
        REDIS_BREAKER_COOLDOWN: '1s',
      }));
    });
    after(async () => {
      redis?.signal('SIGCONT');
      await a?.close();
      await b?.close();
      await redis?.stop();
    });

    it('requests succeed within about the timeout, the breaker opens, /readyz stays 200; after SIGCONT L2 is used again', async () => {
      const client = redis.client();
      const warm = fresh('freeze-warm');
      assertMiss(await a.get(warm, ON_HOST), `${warm} ok`);
      await waitForL2(client, warm);
      assert.equal((await a.stats()).l2.breaker, 'closed');

      redis.signal('SIGSTOP');
      try {
        // One at a time first: each request waits on Redis for at most about the timeout.
        const outcomes: Outcome[] = [];
        const t0 = Date.now();
        let openedAfter = -1;
        for (let i = 0; i < 12; i++) {
          const path = fresh('freeze-seq');
          const o: Outcome = { path, at: Date.now() - t0 };
          try {
            o.r = await a.get(path, ON_HOST);
          } catch (err) {
            o.error = err as Error;
          }
          outcomes.push(o);
          if (openedAfter < 0 && (await a.stats()).l2.breaker === 'open') openedAfter = i + 1;
        }
        const { max, failed } = check(outcomes);
        const latencies = outcomes.map((o) => Math.round(o.r?.ms ?? -1));
        console.log(`[measured] redis SIGSTOP: latencies ${latencies.join(', ')} ms; breaker open after ${openedAfter} requests; max ${max.toFixed(0)} ms (bound ${BOUND_MS} ms)`);
        assert.equal(failed.length, 0, describeFailures(failed));
        assert.ok(max <= BOUND_MS, `slowest request took ${max.toFixed(0)} ms; latencies ${latencies.join(', ')}`);
        assert.ok(openedAfter > 0, 'the breaker opened');

        const stats = await a.stats();
        assert.equal(stats.l2.breaker, 'open');
        assert.ok(stats.l2.breakerOpens >= 1);
        const ready = await a.admin('/readyz');
        assert.equal(ready.status, 200);
        const { invalidation, ...readiness } = JSON.parse(ready.body);
      assert.deepEqual(readiness, { status: 'ready', l1: 'ok', l2: 'degraded' });
      // Whether the invalidation sequence has been unreadable for long enough to say so depends on when this runs.
      assert.match(invalidation, /^(ok|degraded)$/);

        // With the breaker open, requests skip Redis: origin time plus a little, concurrently too.
        const burst = await Promise.all(Array.from({ length: 10 }, async () => {
          const path = fresh('freeze-open');
          const r = await a.get(path, ON_HOST);
          return { path, r, at: 0 } as Outcome;
        }));
        const open = check(burst);
        console.log(`[measured] redis SIGSTOP, breaker open: max latency ${open.max.toFixed(0)} ms over 10 concurrent misses`);
        assert.equal(open.failed.length, 0, describeFailures(open.failed));
        assert.ok(open.max < ORIGIN_MS + REDIS_TIMEOUT_MS * 0.8, `breaker open, yet a request took ${open.max.toFixed(0)} ms`);
        assert.ok((await a.stats()).l2.skipped > 0);
      } finally {
        redis.signal('SIGCONT');
      }

      // Thawed: the probe closes the breaker without waiting for traffic.
      const closedIn = await eventually(async () => (await a.stats()).l2.breaker === 'closed', 5000, 'the breaker to close');
      console.log(`[measured] redis SIGCONT: breaker closed ${closedIn} ms after thawing`);
      const ready = await a.admin('/readyz');
      assert.equal(ready.status, 200);
      const { invalidation, ...readiness } = JSON.parse(ready.body);
      assert.deepEqual(readiness, { status: 'ready', l1: 'ok', l2: 'ok' });
      assert.match(invalidation, /^(ok|degraded)$/);

      const path = fresh('freeze-after');
      assertMiss(await a.get(path, ON_HOST), `${path} ok`);
      await waitForL2(client, path);
      const before = origin.count(path);
      assertHit(await b.get(path, { headers: { host: HOST } }), 'l2', `${path} ok`);
      assert.equal(origin.count(path), before);
    });
  });
});
