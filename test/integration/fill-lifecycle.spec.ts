// The fill is origin work apart from any client: it outlives the client that started it while
// others wait on it, revalidations of an expired object share one conditional request, and the
// Redis fill lease is released only by its holder.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { sleep } from '../support/client';
import { uniquePath, useReverseProxy, waitFor } from '../support/fixture';
import { HOST, l2Key, ON_HOST, twoInstances } from '../support/l2';
import { startOrigin, TestOrigin } from '../support/origin';
import { RedisProcess, startRedis } from '../support/redis';
import type { TestProxy } from '../support/tiercel';
import { createHash } from 'node:crypto';

describe('fills outlive the client that started them', () => {
  const f = useReverseProxy();

  it('100 waiters: the leader disconnecting mid-body leaves the origin at 1 request and every waiter served in full', async () => {
    const path = uniquePath('leader-leaves');
    const body = randomBytes(200 * 1024);
    f.origin.handle(path, async (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'cache-control': 'max-age=60', 'content-length': String(body.length) });
      // 200 KB in 20 slices over about 600 ms.
      for (let i = 0; i < 20; i++) {
        if (res.destroyed) return;
        res.write(body.subarray(i * 10240, (i + 1) * 10240));
        await sleep(30);
      }
      res.end();
    });
    let leaderBytes = 0;
    const leader = httpRequest({ host: '127.0.0.1', port: f.proxy.port, path, agent: false });
    leader.on('error', () => {});
    leader.on('response', (res) => res.on('data', (c: Buffer) => (leaderBytes += c.length)).on('error', () => {}));
    leader.end();
    await waitFor(() => leaderBytes > 0, 3000, 'the first body bytes at the leader');
    const waiters = Array.from({ length: 100 }, () => f.proxy.get(path));
    await sleep(60);
    leader.destroy();
    const responses = await Promise.all(waiters);
    assert.equal(f.origin.count(path), 1, 'origin requests');
    for (const r of responses) {
      assert.equal(r.status, 200);
      assert.equal(r.raw.length, body.length);
      assert.ok(r.raw.equals(body), 'a waiter got a different body');
      assert.match(String(r.headers['cache-status']), /collapsed|hit/);
    }
    const again = await f.proxy.get(path);
    assert.match(String(again.headers['cache-status']), /; hit; detail=l1/);
    assert.ok(again.raw.equals(body));
  });

  it('a leader whose client leaves before the headers, with nobody waiting, aborts the origin request', async () => {
    const path = uniquePath('alone-leaves');
    let closedEarly = false;
    f.origin.handle(path, async (_req, res) => {
      res.on('close', () => (closedEarly = !res.writableEnded));
      await sleep(800);
      if (!res.destroyed) res.writeHead(200, { 'cache-control': 'max-age=60' }).end('late');
    });
    const req = httpRequest({ host: '127.0.0.1', port: f.proxy.port, path, agent: false });
    req.on('error', () => {});
    req.end();
    await waitFor(() => f.origin.count(path) === 1, 2000, 'the origin request');
    req.destroy();
    await waitFor(() => closedEarly, 700, 'the origin to see its request closed');
  });

  it('300 concurrent requests on an expired object with an ETag make 1 conditional request', async () => {
    const path = uniquePath('expired-etag');
    let conditional = 0;
    f.origin.handle(path, async (req, res) => {
      if (req.headers['if-none-match'] === '"v1"') {
        conditional++;
        await sleep(300);
        res.writeHead(304, { etag: '"v1"', 'cache-control': 'max-age=60' });
        return void res.end();
      }
      res.writeHead(200, { 'content-type': 'text/plain', etag: '"v1"', 'cache-control': 'max-age=0' });
      res.end('version one');
    });
    const first = await f.proxy.get(path);
    assert.equal(first.status, 200);
    assert.match(String(first.headers['cache-status']), /fwd=uri-miss; fwd-status=200; stored/);
    const responses = await Promise.all(Array.from({ length: 300 }, () => f.proxy.get(path)));
    assert.equal(conditional, 1, 'conditional requests at the origin');
    assert.equal(f.origin.count(path), 2);
    const statuses = new Map<string, number>();
    for (const r of responses) {
      assert.equal(r.status, 200);
      assert.equal(r.body, 'version one');
      const s = String(r.headers['cache-status']).replace(/ttl=\d+/, 'ttl=N');
      statuses.set(s, (statuses.get(s) ?? 0) + 1);
    }
    assert.equal(statuses.get('tiercel; fwd=stale; fwd-status=304; ttl=N'), 1, [...statuses.keys()].join(' | '));
    assert.equal(statuses.get('tiercel; fwd=stale; fwd-status=200; collapsed; ttl=N'), 299, [...statuses.keys()].join(' | '));
  });
});

describe('the Redis fill lease is released only by its holder', () => {
  let redis: RedisProcess;
  let origin: TestOrigin;
  let a: TestProxy;
  let b: TestProxy;

  before(async () => {
    redis = await startRedis();
    origin = await startOrigin();
    ({ a, b } = await twoInstances(origin, { REDIS_ENABLED: 'true', REDIS_ADDR: redis.addr, REDIS_LEASE_TTL: '600ms' }));
  });
  after(async () => {
    await a?.close();
    await b?.close();
    await origin?.close();
    await redis?.stop();
  });

  it('two instances whose fills outlast REDIS_LEASE_TTL never delete each other\'s lease', async () => {
    const path = uniquePath('lease-owner');
    origin.handle(path, async (_req, res) => {
      await sleep(1500);
      res.writeHead(200, { 'content-type': 'text/plain', 'cache-control': 'max-age=60' });
      res.end(`${path} body`);
    });
    const tag = createHash('sha1').update(HOST + path).digest('base64url').slice(0, 12);
    const leaseKey = `tiercel:{${tag}}:l`;
    assert.ok(l2Key(HOST + path).startsWith(`tiercel:{${tag}}`));
    const probe = redis.client();
    const fromA = a.get(path, ON_HOST);
    await waitFor(() => origin.count(path) === 1, 2000, 'instance a at the origin');
    const holderA = await probe.get(leaseKey);
    assert.match(String(holderA), /^inst-a/);
    // a's lease runs out while its fill goes on; b's request then takes the lease itself.
    await sleep(1050);
    assert.equal(await probe.get(leaseKey), null, 'the lease should have expired');
    const fromB = b.get(path, ON_HOST);
    await waitFor(() => origin.count(path) === 2, 2000, 'instance b at the origin');
    const holderB = await probe.get(leaseKey);
    assert.match(String(holderB), /^inst-b/);
    const ra = await fromA;
    assert.equal(ra.status, 200);
    // a finished and released: b's lease, still within its TTL, must still be there.
    await sleep(20);
    assert.equal(await probe.get(leaseKey), holderB, 'instance a deleted the lease instance b holds');
    const rb = await fromB;
    assert.equal(rb.status, 200);
    probe.disconnect();
  });
});
