import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type Redis from 'ioredis';
import { countMethod, uniquePath } from '../support/fixture';
import {
  assertHit,
  assertMiss,
  cacheStatus,
  eventually,
  HOST,
  invalidate,
  keyOf,
  l2Key,
  ON_HOST,
  Relay,
  startRelay,
  TOKEN,
  twoInstances,
  versioned,
  waitForL2,
} from '../support/l2';
import { startOrigin, TestOrigin } from '../support/origin';
import { RedisProcess, startRedis } from '../support/redis';
import { reverseProxy, TestProxy } from '../support/tiercel';

describe('invalidation across instances through Redis', () => {
  let redis: RedisProcess;
  let client: Redis;
  let origin: TestOrigin;
  let a: TestProxy;
  let b: TestProxy;
  const others: TestProxy[] = [];

  before(async () => {
    redis = await startRedis();
    client = redis.client();
    origin = await startOrigin();
    ({ a, b } = await twoInstances(origin, { REDIS_ENABLED: 'true', REDIS_ADDR: redis.addr }));
  });
  after(async () => {
    for (const p of [a, b, ...others]) await p?.close();
    await origin?.close();
    await redis?.stop();
  });

  /** Stores a path through A, then B takes it from L2 into its L1; both then hit L1. */
  async function primeBoth(path: string, host = HOST): Promise<void> {
    const opts = { headers: { host } };
    assertMiss(await a.get(path, opts));
    await eventually(async () => (await client.exists(l2Key(host + path))) === 1, 3000, `L2 entry for ${path}`);
    assertHit(await b.get(path, opts), 'l2');
    assertHit(await b.get(path, opts), 'l1');
    assertHit(await a.get(path, opts), 'l1');
  }

  /** Waits (at most 1 s) until B has applied `n` more invalidation messages than `before`. */
  async function seenByB(before: number, n = 1): Promise<number> {
    return eventually(async () => (await b.stats()).invalidationsReceived >= before + n, 1000, 'B to receive the invalidation');
  }

  /** B's next request for the path reaches the origin and gets its next version. */
  async function bRefetches(path: string, version: number, host = HOST): Promise<void> {
    const before = origin.count(path);
    const r = await b.get(path, { headers: { host } });
    assertMiss(r, `${path} v${version}`);
    assert.equal(origin.count(path), before + 1, `B must ask the origin for ${path}`);
  }

  it('by URL: removed from A\'s L1 and L2, published, and gone from B\'s L1 within 1 s', async () => {
    const path = uniquePath('inv-url');
    const kept = uniquePath('inv-url-kept');
    versioned(origin, path);
    versioned(origin, kept);
    await primeBoth(path);
    await primeBoth(kept);
    const received = (await b.stats()).invalidationsReceived;

    const r = await invalidate(a, { urls: [`http://${HOST}${path}`] });
    assert.equal(r.status, 200);
    assert.deepEqual(JSON.parse(r.body), { removed: { l1: 1, l2: 1 }, published: true });
    assert.equal(await client.exists(keyOf(path)), 0);
    assert.equal(await client.exists(keyOf(kept)), 1);
    await seenByB(received);

    await bRefetches(path, 2);
    assertHit(await b.get(kept, ON_HOST), 'l1', `${kept} v1`);
    assertHit(await a.get(path, ON_HOST), 'l2', `${path} v2`);
    assert.equal(origin.count(path), 2);
    assert.equal(origin.count(kept), 1);
  });

  it('by pattern: a path glob, and the host/* form, on every instance', async () => {
    const dir = uniquePath('inv-pat');
    const p1 = `${dir}/one`;
    const p2 = `${dir}/two?q=1`;
    const outside = `${dir}-outside`;
    const otherHost = 'static.example.com';
    const s1 = uniquePath('inv-host');
    for (const p of [p1, p2, outside, s1]) versioned(origin, p);
    for (const p of [p1, p2, outside]) await primeBoth(p);
    await primeBoth(s1, otherHost);
    let received = (await b.stats()).invalidationsReceived;

    const r = await invalidate(a, { pattern: `${HOST}${dir}/*` });
    assert.equal(r.status, 200);
    assert.deepEqual(JSON.parse(r.body), { removed: { l1: 2, l2: 2 }, published: true });
    await seenByB(received);
    await bRefetches(p1, 2);
    await bRefetches(p2, 2);
    assertHit(await b.get(outside, ON_HOST), 'l1', `${outside} v1`);
    assertHit(await b.get(s1, { headers: { host: otherHost } }), 'l1', `${s1} v1`);

    received = (await b.stats()).invalidationsReceived;
    const byHost = await invalidate(a, { pattern: `https://${otherHost}/*` });
    assert.equal(byHost.status, 200);
    assert.deepEqual(JSON.parse(byHost.body), { removed: { l1: 1, l2: 1 }, published: true });
    assert.equal(await client.exists(l2Key(otherHost + s1)), 0);
    await seenByB(received);
    await bRefetches(s1, 2, otherHost);
    assertHit(await b.get(outside, ON_HOST), 'l1', `${outside} v1`);
    assert.equal(await client.exists(keyOf(outside)), 1);
  });

  it('by tag: Surrogate-Key (space-separated) and Cache-Tag (comma-separated)', async () => {
    const sk = uniquePath('inv-sk');
    const ct = uniquePath('inv-ct');
    const untagged = uniquePath('inv-untagged');
    const tag = `t${process.pid}`;
    versioned(origin, sk, { 'cache-control': 'max-age=60', 'surrogate-key': `${tag}-page ${tag}-user` });
    versioned(origin, ct, { 'cache-control': 'max-age=60', 'cache-tag': `${tag}-product,${tag}-list` });
    versioned(origin, untagged);
    for (const p of [sk, ct, untagged]) await primeBoth(p);

    let received = (await b.stats()).invalidationsReceived;
    const r1 = await invalidate(a, { tags: [`${tag}-user`] });
    assert.equal(r1.status, 200);
    assert.deepEqual(JSON.parse(r1.body), { removed: { l1: 1, l2: 1 }, published: true });
    await seenByB(received);
    await bRefetches(sk, 2);
    assertHit(await b.get(ct, ON_HOST), 'l1', `${ct} v1`);

    received = (await b.stats()).invalidationsReceived;
    const r2 = await invalidate(a, { tags: [`${tag}-list`] });
    assert.equal(r2.status, 200);
    assert.deepEqual(JSON.parse(r2.body), { removed: { l1: 1, l2: 1 }, published: true });
    await seenByB(received);
    await bRefetches(ct, 2);
    assertHit(await b.get(untagged, ON_HOST), 'l1', `${untagged} v1`);
    assert.equal(await client.exists(keyOf(untagged)), 1);
  });

  it('all: every object leaves L2 and every instance\'s L1', async () => {
    const paths = [uniquePath('inv-all'), uniquePath('inv-all'), uniquePath('inv-all')];
    for (const p of paths) versioned(origin, p);
    for (const p of paths) await primeBoth(p);
    const received = (await b.stats()).invalidationsReceived;
    const r = await invalidate(a, { all: true });
    assert.equal(r.status, 200);
    const out = JSON.parse(r.body);
    assert.equal(out.published, true);
    assert.ok(out.removed.l1 >= 3 && out.removed.l2 >= 3, r.body);
    const keys = await client.keys('tiercel:*:o:*');
    assert.deepEqual(keys, []);
    await seenByB(received);
    for (const p of paths) await bRefetches(p, 2);
  });

  it('soft: objects stay but the next request on each instance revalidates (origin sees If-None-Match)', async () => {
    const path = uniquePath('inv-soft');
    let full = 0;
    origin.handle(path, (req, res) => {
      if (req.headers['if-none-match'] === '"e1"') {
        res.writeHead(304, { etag: '"e1"', 'cache-control': 'max-age=60' });
        return void res.end();
      }
      full++;
      res.writeHead(200, { etag: '"e1"', 'cache-control': 'max-age=60', 'content-type': 'text/plain' });
      res.end(`${path} body`);
    });
    await primeBoth(path);
    const received = (await b.stats()).invalidationsReceived;
    const r = await invalidate(a, { urls: [`${HOST}${path}`], soft: true });
    assert.equal(r.status, 200);
    assert.deepEqual(JSON.parse(r.body), { removed: { l1: 1, l2: 1 }, published: true });
    assert.equal(await client.exists(keyOf(path)), 1, 'a soft invalidation keeps the object');
    await seenByB(received);

    const before = origin.requests.length;
    const fromB = await b.get(path, ON_HOST);
    assert.equal(fromB.status, 200);
    assert.equal(fromB.body, `${path} body`);
    assert.match(cacheStatus(fromB), /fwd=stale; fwd-status=304/);
    const conditional = origin.requests.slice(before);
    assert.equal(conditional.length, 1);
    assert.equal(conditional[0]!.headers['if-none-match'], '"e1"');
    assertHit(await b.get(path, ON_HOST), 'l1', `${path} body`);

    const fromA = await a.get(path, ON_HOST);
    assert.match(cacheStatus(fromA), /fwd=stale; fwd-status=304/);
    assert.equal(fromA.body, `${path} body`);
    assert.equal(full, 1, 'the body was fetched once; the rest were 304s');
    assert.equal(countMethod(origin, path, 'GET'), 3);
  });

  it('soft, seen through L2: an instance without the object in L1 revalidates what L2 marked stale', async () => {
    const path = uniquePath('inv-soft-l2');
    const conditions: (string | undefined)[] = [];
    origin.handle(path, (req, res) => {
      conditions.push(req.headers['if-none-match'] as string | undefined);
      if (req.headers['if-none-match'] === '"s1"') {
        res.writeHead(304, { etag: '"s1"', 'cache-control': 'max-age=60' });
        return void res.end();
      }
      res.writeHead(200, { etag: '"s1"', 'cache-control': 'max-age=60', 'content-type': 'text/plain' });
      res.end(`${path} body`);
    });
    assertMiss(await a.get(path, ON_HOST), `${path} body`);
    await waitForL2(client, path);
    const r = await invalidate(a, { urls: [`${HOST}${path}`], soft: true });
    assert.deepEqual(JSON.parse(r.body), { removed: { l1: 1, l2: 1 }, published: true });

    // B never had it: it finds the object in L2, marked stale there, and must not serve it as a hit.
    const fromB = await b.get(path, ON_HOST);
    assert.equal(fromB.status, 200);
    assert.equal(fromB.body, `${path} body`);
    assert.match(cacheStatus(fromB), /fwd=stale; fwd-status=304/);
    assert.deepEqual(conditions, [undefined, '"s1"']);
    assertHit(await b.get(path, ON_HOST), 'l1', `${path} body`);
  });

  it('the admin API answers 403 without ADMIN_TOKEN, 401 for a wrong token, 400 for a malformed body', async () => {
    const path = uniquePath('inv-auth');
    versioned(origin, path);
    await primeBoth(path);
    const noToken = await reverseProxy(origin.url, { REDIS_ENABLED: 'true', REDIS_ADDR: redis.addr, INSTANCE_ID: 'inst-no-token' });
    others.push(noToken);
    const forbidden = await invalidate(noToken, { all: true });
    assert.equal(forbidden.status, 403);
    assert.match(forbidden.body, /ADMIN_TOKEN/);

    for (const auth of [null, 'Bearer wrong', `Basic ${TOKEN}`, `Bearer ${TOKEN}x`]) {
      const r = await invalidate(a, { all: true }, auth);
      assert.equal(r.status, 401, `Authorization: ${auth}`);
    }
    for (const body of ['{"urls":[]}', '{"urls":["/x"],"all":true}', '{"all":false}', '{"pattern":""}', '{"tags":[1]}', '{"all":true,"soft":"yes"}', '{"all":true,"extra":1}', '[]', '{not json']) {
      const r = await invalidate(a, body);
      assert.equal(r.status, 400, `body ${body}: ${r.body}`);
    }
    // None of those touched anything.
    assert.equal(await client.exists(keyOf(path)), 1);
    assertHit(await a.get(path, ON_HOST), 'l1');
    assertHit(await b.get(path, ON_HOST), 'l1');
    assert.equal(origin.count(path), 1);
  });

  it('PURGE from a PURGE_ALLOW client removes the URL everywhere; from another client it is refused', async () => {
    const path = uniquePath('inv-purge');
    versioned(origin, path);
    await primeBoth(path);
    const received = (await b.stats()).invalidationsReceived;
    const r = await a.get(path, { method: 'PURGE', headers: { host: HOST } });
    assert.equal(r.status, 200);
    assert.deepEqual(JSON.parse(r.body), { purged: `${HOST}${path}`, removed: { l1: 1, l2: 1 }, published: true });
    assert.match(cacheStatus(r), /fwd=bypass; detail=purge/);
    assert.equal(countMethod(origin, path, 'PURGE'), 0, 'PURGE never reaches the origin');
    await seenByB(received);
    await bRefetches(path, 2);

    // A Tiercel that lets only 10.0.0.0/8 purge refuses loopback clients and keeps the object.
    const strict = await reverseProxy(origin.url, { REDIS_ENABLED: 'true', REDIS_ADDR: redis.addr, INSTANCE_ID: 'inst-strict', PURGE_ALLOW: '10.0.0.0/8' });
    others.push(strict);
    assertHit(await strict.get(path, ON_HOST), 'l2', `${path} v2`);
    const denied = await strict.get(path, { method: 'PURGE', headers: { host: HOST } });
    assert.equal(denied.status, 403);
    assert.match(denied.body, /PURGE_ALLOW/);
    assertHit(await strict.get(path, ON_HOST), 'l1', `${path} v2`);
    assert.equal(await client.exists(keyOf(path)), 1);
    assertHit(await b.get(path, ON_HOST), 'l1', `${path} v2`);
    assert.equal(origin.count(path), 2);
  });

  it('Surrogate-Key and Cache-Tag are stripped from client responses, and kept with STRIP_SURROGATE_HEADERS=false', async () => {
    const path = uniquePath('inv-strip');
    const tagHeaders = { 'cache-control': 'max-age=60', 'surrogate-key': 'alpha beta', 'cache-tag': 'gamma,delta' };
    versioned(origin, path, tagHeaders);
    const miss = await a.get(path, ON_HOST);
    assertMiss(miss);
    await waitForL2(client, path);
    for (const r of [miss, await a.get(path, ON_HOST), await b.get(path, ON_HOST)]) {
      assert.equal(r.headers['surrogate-key'], undefined, cacheStatus(r));
      assert.equal(r.headers['cache-tag'], undefined, cacheStatus(r));
      assert.equal(r.headers['cache-control'], 'max-age=60');
    }
    // Stripped from responses, the tags still work for invalidation.
    const inv = await invalidate(a, { tags: ['delta'] });
    assert.deepEqual(JSON.parse(inv.body).removed, { l1: 1, l2: 1 });

    const keepPath = uniquePath('inv-keep');
    versioned(origin, keepPath, tagHeaders);
    const keep = await reverseProxy(origin.url, { REDIS_ENABLED: 'true', REDIS_ADDR: redis.addr, INSTANCE_ID: 'inst-keep', STRIP_SURROGATE_HEADERS: 'false' });
    others.push(keep);
    const kMiss = await keep.get(keepPath, ON_HOST);
    assertMiss(kMiss);
    const kHit = await keep.get(keepPath, ON_HOST);
    assertHit(kHit, 'l1');
    for (const r of [kMiss, kHit]) {
      assert.equal(r.headers['surrogate-key'], 'alpha beta');
      assert.equal(r.headers['cache-tag'], 'gamma,delta');
    }
  });

  it('missed messages: B cut off from Redis while A invalidates resyncs on reconnect and does not serve the old object', async () => {
    const relay: Relay = await startRelay(redis.port);
    const c = await reverseProxy(origin.url, { REDIS_ENABLED: 'true', REDIS_ADDR: relay.addr, INSTANCE_ID: 'inst-c', ADMIN_TOKEN: TOKEN });
    others.push(c);
    try {
      const path = uniquePath('inv-missed');
      versioned(origin, path);
      assertMiss(await a.get(path, ON_HOST), `${path} v1`);
      await waitForL2(client, path);
      assertHit(await c.get(path, ON_HOST), 'l2', `${path} v1`);
      assertHit(await c.get(path, ON_HOST), 'l1', `${path} v1`);
      const before = await c.stats();
      assert.equal(before.bus.resyncs, 0);

      await relay.cut();
      await eventually(async () => (await c.stats()).l2.connection !== 'ready', 2000, 'C to notice the cut');
      const r = await invalidate(a, { urls: [`${HOST}${path}`] });
      assert.deepEqual(JSON.parse(r.body), { removed: { l1: 1, l2: 1 }, published: true });
      // Cut off, C still serves its L1 copy: it cannot know (this is what the resync repairs).
      assertHit(await c.get(path, ON_HOST), 'l1', `${path} v1`);
      assert.equal((await c.stats()).invalidationsReceived, before.invalidationsReceived, 'the message never reached C');

      await relay.restore();
      await eventually(async () => (await c.stats()).bus.resyncs >= 1, 5000, 'C to resync');
      const after = await c.get(path, ON_HOST);
      assertMiss(after, `${path} v2`);
      assert.equal(origin.count(path), 2);
    } finally {
      await relay.close();
    }
  });
});
