import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type Redis from 'ioredis';
import type { ClientResponse } from '../support/client';
import { assertHit, assertMiss, cacheStatus, eventually, HOST, invalidate, keyOf, ON_HOST, sleep, twoInstances } from '../support/l2';
import { startOrigin, TestOrigin } from '../support/origin';
import { RedisClusterSetup, SentinelSetup, startRedisCluster, startSentinelSetup } from '../support/redis';
import type { TestProxy } from '../support/tiercel';

let seq = 0;
const fresh = (name: string) => `/${name}-${process.pid}-${++seq}`;

/** Every path answers `<path> ok`, cacheable for a minute. */
function okOrigin(): Promise<TestOrigin> {
  return startOrigin((req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain', 'cache-control': 'max-age=60' });
    res.end(`${req.url} ok`);
  });
}

/** Object keys a node holds itself (SCAN on one node sees only its own slots). */
async function objectKeysOn(node: Redis): Promise<string[]> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await node.scan(cursor, 'MATCH', '*}:o:*', 'COUNT', 1000);
    cursor = next;
    keys.push(...batch);
  } while (cursor !== '0');
  return keys;
}

describe('Redis Sentinel: the master dies under steady traffic', () => {
  let setup: SentinelSetup;
  let origin: TestOrigin;
  let a: TestProxy;
  let b: TestProxy;

  before(async () => {
    setup = await startSentinelSetup('mymaster');
    origin = await okOrigin();
    ({ a, b } = await twoInstances(origin, { REDIS_SENTINELS: setup.sentinelAddrs, REDIS_SENTINEL_MASTER: 'mymaster' }));
  });
  after(async () => {
    await a?.close();
    await b?.close();
    await origin?.close();
    await setup?.stop();
  });

  it('no request fails; after failover A stores and B hits L2 on the promoted replica', async () => {
    const sentinel = setup.sentinels[1]!.client();
    const masterPort = async () => Number(((await sentinel.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', 'mymaster')) as string[])[1]);
    assert.equal(await masterPort(), setup.master.port);

    // L2 works through Sentinel before the failure.
    const warm = fresh('ha-warm');
    assertMiss(await a.get(warm, ON_HOST), `${warm} ok`);
    await eventually(async () => (await setup.master.client().exists(keyOf(warm))) === 1, 3000, 'the warm-up object in L2');
    assertHit(await b.get(warm, ON_HOST), 'l2', `${warm} ok`);

    const results: { path: string; r?: ClientResponse; error?: Error }[] = [];
    let stop = false;
    const shared: string[] = [];
    const worker = async (w: number) => {
      for (let i = 0; !stop; i++) {
        // A stores new URLs; B reads them back (through L2 while it is there); both re-read warm ones.
        let proxy: TestProxy;
        let path: string;
        if (i % 3 === 0 || shared.length === 0) {
          proxy = a;
          path = fresh(`ha-traffic-${w}`);
          shared.push(path);
        } else if (i % 3 === 1) {
          proxy = b;
          path = shared.shift()!;
        } else {
          proxy = w % 2 === 0 ? a : b;
          path = warm;
        }
        try {
          results.push({ path, r: await proxy.get(path, ON_HOST) });
        } catch (err) {
          results.push({ path, error: err as Error });
        }
        await sleep(10);
      }
    };
    const workers = Array.from({ length: 4 }, (_, w) => worker(w));

    await sleep(500);
    const killedAt = Date.now();
    setup.master.signal('SIGKILL');
    let failoverMs = -1;
    let l2BackMs = -1;
    try {
      failoverMs = await eventually(async () => (await masterPort()) === setup.replica.port, 30_000, 'the sentinels to promote the replica');
      // L2 is back when an object A stores now is served to B from L2.
      await eventually(async () => {
        const probe = fresh('ha-probe');
        const stored = await a.get(probe, ON_HOST);
        if (stored.status !== 200) return false;
        await sleep(50);
        return /detail=l2/.test(cacheStatus(await b.get(probe, ON_HOST)));
      }, 30_000, 'L2 to serve again after failover');
      l2BackMs = Date.now() - killedAt;
      await sleep(300);
    } finally {
      stop = true;
      await Promise.all(workers);
    }
    const failed = results.filter((x) => x.error !== undefined || x.r!.status !== 200 || x.r!.body !== `${x.path} ok`);
    console.log(`[measured] sentinel failover: ${results.length} requests, ${failed.length} failed; sentinels promoted the replica ${failoverMs} ms after the kill; L2 unavailable for about ${l2BackMs} ms`);
    assert.equal(failed.length, 0, failed.slice(0, 5).map((x) => `${x.path}: ${x.error?.message ?? `${x.r!.status} ${x.r!.body}`}`).join('; '));
    assert.ok(results.length >= 50, `only ${results.length} requests`);

    // After failover: A stores a new object; B gets it from L2, which now lives on the promoted replica.
    const path = fresh('ha-after');
    assertMiss(await a.get(path, ON_HOST), `${path} ok`);
    const promoted = setup.replica.client();
    await eventually(async () => (await promoted.exists(keyOf(path))) === 1, 3000, 'the object on the promoted replica');
    assert.equal(((await promoted.call('ROLE')) as unknown[])[0], 'master');
    const before = origin.count(path);
    assertHit(await b.get(path, ON_HOST), 'l2', `${path} ok`);
    assert.equal(origin.count(path), before);
    const stats = await b.stats();
    assert.equal(stats.l2.connection, 'ready');
    assert.equal(stats.l2.breaker, 'closed');
  });
});

describe('Redis Cluster: three masters', () => {
  let cluster: RedisClusterSetup;
  let nodes: Redis[];
  let origin: TestOrigin;
  let a: TestProxy;
  let b: TestProxy;
  /** Paths whose L2 keys land on each master: byNode[i] for nodes[i]. */
  const byNode: string[][] = [[], [], []];

  before(async () => {
    cluster = await startRedisCluster();
    nodes = cluster.nodes.map((n) => n.client());
    origin = await okOrigin();
    ({ a, b } = await twoInstances(origin, { REDIS_CLUSTER_NODES: cluster.nodeAddrs }));
  });
  after(async () => {
    await a?.close();
    await b?.close();
    await origin?.close();
    await cluster?.stop();
  });

  /** `count` paths per master (with the given prefix), chosen by their keys' slots. */
  async function pathsOnEveryMaster(prefix: string, count: number): Promise<string[][]> {
    const slots = (await nodes[0]!.call('CLUSTER', 'SLOTS')) as [number, number, [string, number]][];
    const owner = (slot: number) => {
      const range = slots.find(([lo, hi]) => slot >= lo && slot <= hi)!;
      return cluster.nodes.findIndex((n) => n.port === range[2][1]);
    };
    const out: string[][] = [[], [], []];
    for (let i = 0; out.some((l) => l.length < count); i++) {
      assert.ok(i < 500);
      const path = `${prefix}/${i}`;
      const slot = Number(await nodes[0]!.call('CLUSTER', 'KEYSLOT', keyOf(path)));
      const n = owner(slot);
      if (out[n]!.length < count) out[n]!.push(path);
    }
    return out;
  }

  it('two instances share objects through L2 spread over every master', async () => {
    const per = await pathsOnEveryMaster(fresh('cl-share'), 2);
    const all = per.flat();
    for (const p of all) assertMiss(await a.get(p, ON_HOST), `${p} ok`);
    for (let n = 0; n < 3; n++) {
      for (const p of per[n]!) {
        await eventually(async () => (await nodes[n]!.exists(keyOf(p))) === 1, 3000, `${p} on master ${n}`);
      }
      byNode[n]!.push(...per[n]!);
    }
    for (const p of all) assertHit(await b.get(p, ON_HOST), 'l2', `${p} ok`);
    for (const p of all) assertHit(await b.get(p, ON_HOST), 'l1', `${p} ok`);
    for (const p of all) assert.equal(origin.count(p), 1);
    const stats = await b.stats();
    assert.equal(stats.l2.connection, 'ready');
    assert.equal(stats.bus.publishErrors, 0);
  });

  /** Stores paths through A, lets B take them from L2 into its L1. */
  async function primeBoth(paths: string[]): Promise<void> {
    for (const p of paths) assertMiss(await a.get(p, ON_HOST));
    for (const p of paths) {
      await eventually(async () => {
        for (const node of nodes) if ((await node.exists(keyOf(p)).catch(() => 0)) === 1) return true;
        return false;
      }, 3000, `${p} in L2`);
    }
    for (const p of paths) assertHit(await b.get(p, ON_HOST), 'l2');
  }

  it('pattern invalidation clears matching objects on every master and on every instance', async () => {
    const dir = fresh('cl-pat');
    const per = await pathsOnEveryMaster(dir, 2);
    const outside = fresh('cl-pat-outside');
    await primeBoth([...per.flat(), outside]);
    const received = (await b.stats()).invalidationsReceived;

    const r = await invalidate(a, { pattern: `${HOST}${dir}/*` });
    assert.equal(r.status, 200);
    assert.deepEqual(JSON.parse(r.body), { removed: { l1: 6, l2: 6 }, published: true });
    for (let n = 0; n < 3; n++) {
      for (const p of per[n]!) assert.equal(await nodes[n]!.exists(keyOf(p)), 0, `${p} left on master ${n}`);
      // Objects from the earlier test, on the same masters, stay.
      for (const p of byNode[n]!) assert.equal(await nodes[n]!.exists(keyOf(p)), 1);
    }
    await eventually(async () => (await b.stats()).invalidationsReceived > received, 1000, 'B to receive the invalidation');
    for (const p of per.flat()) {
      const again = await b.get(p, ON_HOST);
      assertMiss(again, `${p} ok`);
      assert.equal(origin.count(p), 2);
    }
    assertHit(await b.get(outside, ON_HOST), 'l1', `${outside} ok`);
  });

  it('all invalidation clears every master and every instance', async () => {
    const per = await pathsOnEveryMaster(fresh('cl-all'), 1);
    await primeBoth(per.flat());
    for (const node of nodes) assert.ok((await objectKeysOn(node)).length > 0);
    const received = (await b.stats()).invalidationsReceived;

    const r = await invalidate(a, { all: true });
    assert.equal(r.status, 200);
    const out = JSON.parse(r.body);
    assert.equal(out.published, true);
    assert.ok(out.removed.l2 >= 3 + byNode.flat().length, r.body);
    for (let n = 0; n < 3; n++) assert.deepEqual(await objectKeysOn(nodes[n]!), [], `master ${n} still holds objects`);
    await eventually(async () => (await b.stats()).invalidationsReceived > received, 1000, 'B to receive the invalidation');
    for (const p of [...per.flat(), ...byNode.flat()]) {
      const before = origin.count(p);
      assertMiss(await b.get(p, ON_HOST), `${p} ok`);
      assert.equal(origin.count(p), before + 1);
    }
  });
});
