import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { sleep } from '../support/client';
import { request as httpRequest } from 'node:http';
import { cacheStatus, uniquePath, useReverseProxy, waitFor } from '../support/fixture';

const DELAY = 300;

describe('request coalescing', () => {
  const f = useReverseProxy();

  it('20 concurrent misses on a slow cacheable URL: one origin request, every client gets the body', async () => {
    const path = uniquePath('coalesce');
    f.origin.handle(path, async (_req, res) => {
      await sleep(DELAY);
      res.writeHead(200, { 'cache-control': 'max-age=60', 'content-type': 'text/plain' });
      res.end('the one body');
    });
    const before = await f.proxy.stats();
    const started = performance.now();
    const all = await Promise.all(Array.from({ length: 20 }, () => f.proxy.get(path)));
    const elapsed = performance.now() - started;
    assert.equal(f.origin.count(path), 1);
    for (const r of all) {
      assert.equal(r.status, 200);
      assert.equal(r.body, 'the one body');
      assert.equal(r.headers['content-type'], 'text/plain');
    }
    const collapsed = all.filter((r) => /; collapsed/.test(cacheStatus(r)));
    assert.ok(collapsed.length >= 1, 'some responses are marked collapsed');
    for (const r of collapsed) {
      // Date has one-second resolution (RFC 9110 §5.6.7): the apparent age alone may be up to 1 s, so 58 is right too.
      assert.match(cacheStatus(r), /; fwd=uri-miss; fwd-status=200; collapsed; ttl=(58|59|60)$/);
      assert.equal(r.headers['content-length'], '12');
    }
    assert.equal(all.filter((r) => /; stored/.test(cacheStatus(r))).length, 1, 'exactly one leader stored it');
    assert.ok(elapsed < DELAY * 3, `took ${elapsed} ms`);
    const stats = await f.proxy.stats();
    assert.equal(stats.coalesced - before.coalesced, collapsed.length);
  });

  it('an uncacheable slow URL is not serialised, and later requests skip the waiting list (hit-for-pass)', async () => {
    const path = uniquePath('coalesce-no-store');
    f.origin.handle(path, async (_req, res) => {
      await sleep(DELAY);
      res.writeHead(200, { 'cache-control': 'no-store' });
      res.end('private stuff');
    });
    let started = performance.now();
    const wave1 = await Promise.all(Array.from({ length: 20 }, () => f.proxy.get(path)));
    const wave1Ms = performance.now() - started;
    for (const r of wave1) {
      assert.equal(r.status, 200);
      assert.equal(r.body, 'private stuff');
    }
    assert.equal(f.origin.count(path), 20);
    // The first wave cannot know the answer is uncacheable before the leader's headers arrive, so it
    // may wait once: at most the leader's delay plus its own. Serialised would be 20 × DELAY.
    assert.ok(wave1Ms < DELAY * 3, `first wave took ${wave1Ms} ms`);

    started = performance.now();
    const wave2 = await Promise.all(Array.from({ length: 20 }, () => f.proxy.get(path)));
    const wave2Ms = performance.now() - started;
    for (const r of wave2) {
      assert.equal(r.status, 200);
      assert.equal(r.body, 'private stuff');
      assert.match(cacheStatus(r), /; fwd=uri-miss; fwd-status=200; detail=hit-for-pass$/);
    }
    assert.equal(f.origin.count(path), 40);
    assert.ok(wave2Ms < DELAY * 1.8, `second wave took ${wave2Ms} ms: it waited in a queue`);
  });

  it('when the leader\'s client disconnects, the waiters are not left hanging', async () => {
    const path = uniquePath('coalesce-leader-gone');
    let n = 0;
    f.origin.handle(path, async (_req, res) => {
      const mine = ++n;
      await sleep(DELAY);
      if (res.destroyed) return;
      res.writeHead(200, { 'cache-control': 'max-age=60' });
      res.end(`answer ${mine}`);
    });
    const leader = httpRequest({ host: '127.0.0.1', port: f.proxy.port, path, agent: false });
    leader.on('error', () => {});
    leader.end();
    await waitFor(() => f.origin.count(path) === 1, 1000, 'the leader to reach the origin');
    const waiters = Promise.all(Array.from({ length: 5 }, () => f.proxy.get(path)));
    await sleep(50);
    leader.destroy();
    const all = await waiters;
    for (const r of all) {
      assert.equal(r.status, 200);
      assert.match(r.body, /^answer \d$/);
      // Not stuck until COALESCE_TIMEOUT (10 s by default).
      assert.ok(r.ms < DELAY * 4, `waiter took ${r.ms} ms`);
    }
  });

  it('a hit-for-pass key becomes cacheable again when the origin starts allowing it', async () => {
    const path = uniquePath('hit-for-pass-clears');
    let n = 0;
    f.origin.handle(path, (_req, res) => {
      n++;
      res.writeHead(200, { 'cache-control': n === 1 ? 'no-store' : 'max-age=60' });
      res.end(`v${n}`);
    });
    const first = await f.proxy.get(path);
    assert.match(cacheStatus(first), /detail=no-store/);
    const second = await f.proxy.get(path);
    assert.equal(second.body, 'v2');
    assert.match(cacheStatus(second), /; stored; ttl=60; detail=hit-for-pass$/);
    const third = await f.proxy.get(path);
    assert.equal(third.body, 'v2');
    assert.match(cacheStatus(third), /; hit/);
    assert.equal(f.origin.count(path), 2);
  });

  it("the leader's Set-Cookie never reaches a waiter", async () => {
    const path = uniquePath('coalesce-cookie');
    let n = 0;
    f.origin.handle(path, async (_req, res) => {
      const mine = ++n;
      await sleep(DELAY);
      res.writeHead(200, { 'cache-control': 'max-age=60', 'set-cookie': `session=user${mine}` });
      res.end(`page for user${mine}`);
    });
    const all = await Promise.all(Array.from({ length: 8 }, () => f.proxy.get(path)));
    const cookies = all.map((r) => r.headers['set-cookie']?.[0]).filter((c) => c !== undefined);
    // Every cookie that arrived came from the origin's answer to that client's own request.
    for (const r of all) {
      assert.equal(r.status, 200);
      const cookie = r.headers['set-cookie']?.[0];
      if (cookie !== undefined) assert.equal(r.body, `page for ${cookie.replace('session=', '')}`);
    }
    assert.equal(cookies.filter((c) => c === 'session=user1').length, 1, `user1's cookie went to ${cookies.filter((c) => c === 'session=user1').length} clients`);
    assert.equal(new Set(cookies).size, cookies.length, 'no cookie was handed to two clients');
    assert.equal(f.origin.count(path), 8);
  });
});

describe('request coalescing with CACHE_STRIP_SET_COOKIE=true', () => {
  const f = useReverseProxy({ CACHE_STRIP_SET_COOKIE: 'true' });

  it("waiters get the stored object without the leader's Set-Cookie", async () => {
    const path = uniquePath('coalesce-cookie-strip');
    f.origin.handle(path, async (_req, res) => {
      await sleep(DELAY);
      res.writeHead(200, { 'cache-control': 'max-age=60', 'set-cookie': 'session=leader' });
      res.end('shared page');
    });
    const all = await Promise.all(Array.from({ length: 8 }, () => f.proxy.get(path)));
    assert.equal(f.origin.count(path), 1);
    for (const r of all) {
      assert.equal(r.status, 200);
      assert.equal(r.body, 'shared page');
    }
    const withCookie = all.filter((r) => r.headers['set-cookie'] !== undefined);
    assert.equal(withCookie.length, 1);
    assert.match(cacheStatus(withCookie[0]!), /; stored/);
    assert.ok(all.some((r) => /collapsed/.test(cacheStatus(r))));
  });
});

describe('COALESCE_TIMEOUT', () => {
  const f = useReverseProxy({ COALESCE_TIMEOUT: '150ms' });

  it('bounds the wait: when the origin is slower than the timeout, waiters go to the origin themselves', async () => {
    const path = uniquePath('coalesce-timeout');
    let n = 0;
    f.origin.handle(path, async (_req, res) => {
      const mine = ++n;
      await sleep(500);
      res.writeHead(200, { 'cache-control': 'max-age=60' });
      res.end(`answer ${mine}`);
    });
    const first = f.proxy.get(path);
    await sleep(20); // the first one leads
    const waiters = await Promise.all(Array.from({ length: 4 }, () => f.proxy.get(path)));
    const leader = await first;
    assert.equal(leader.status, 200);
    assert.equal(leader.body, 'answer 1');
    for (const r of waiters) {
      assert.equal(r.status, 200);
      assert.match(r.body, /^answer [2-5]$/);
      assert.match(cacheStatus(r), /detail=collapse-timeout/);
      // 150 ms waiting + 500 ms own fetch, not 500 ms + the leader's leftover.
      assert.ok(r.ms >= 600 && r.ms < 1000, `waiter took ${r.ms} ms`);
    }
    assert.equal(f.origin.count(path), 5);
  });
});
