import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type Redis from 'ioredis';
import { uniquePath } from '../support/fixture';
import { assertHit, assertMiss, cacheStatus, HOST, keyOf, ON_HOST, sleep, twoInstances, versioned, waitForL2 } from '../support/l2';
import { startOrigin, TestOrigin } from '../support/origin';
import { RedisProcess, startRedis } from '../support/redis';
import type { TestProxy } from '../support/tiercel';

/** The margin Redis keeps an entry past its last usable moment (RedisTier's L2_TTL_MARGIN_MS). */
const MARGIN_MS = 30_000;

describe('L2: two instances sharing one Redis', () => {
  let redis: RedisProcess;
  let client: Redis;
  let origin: TestOrigin;
  let a: TestProxy;
  let b: TestProxy;

  before(async () => {
    redis = await startRedis();
    client = redis.client();
    origin = await startOrigin();
    ({ a, b } = await twoInstances(origin, { REDIS_ENABLED: 'true', REDIS_ADDR: redis.addr, REDIS_MAX_OBJECT_SIZE: '64k' }));
  });
  after(async () => {
    await a?.close();
    await b?.close();
    await origin?.close();
    await redis?.stop();
  });

  it('A misses and stores; B answers from L2 without the origin, then from its own L1', async () => {
    const path = uniquePath('l2-seed');
    versioned(origin, path);
    const first = await a.get(path, ON_HOST);
    assertMiss(first, `${path} v1`);
    assert.match(cacheStatus(first), /^tiercel; fwd=uri-miss; fwd-status=200; stored; ttl=60$/);
    await waitForL2(client, path);

    const fromL2 = await b.get(path, ON_HOST);
    const ttl = assertHit(fromL2, 'l2', `${path} v1`);
    assert.ok(ttl >= 58 && ttl <= 60, `ttl ${ttl}`);
    assert.equal(fromL2.headers['content-type'], 'text/plain');
    assert.equal(fromL2.headers['x-cache'], 'HIT');
    assert.equal(origin.count(path), 1, 'B must not ask the origin');

    const fromL1 = await b.get(path, ON_HOST);
    assertHit(fromL1, 'l1', `${path} v1`);
    assertHit(await a.get(path, ON_HOST), 'l1', `${path} v1`);
    assert.equal(origin.count(path), 1);
  });

  it('Age counts the time the object spent stored, across instances', async () => {
    const path = uniquePath('l2-age');
    // The origin says the response is already 10 s old.
    versioned(origin, path, { 'cache-control': 'max-age=60', age: '10' });
    const first = await a.get(path, ON_HOST);
    assertMiss(first, `${path} v1`);
    assert.equal(first.headers.age, '10');
    await waitForL2(client, path);
    await sleep(1100);
    const r = await b.get(path, ON_HOST);
    const ttl = assertHit(r, 'l2', `${path} v1`);
    assert.equal(r.headers.age, '11', 'Age = the origin\'s 10 s + 1 s stored in L2');
    assert.ok(ttl === 48 || ttl === 49, `ttl ${ttl}: 60 s of freshness less 11.x s of age`);
    const again = await b.get(path, ON_HOST);
    assertHit(again, 'l1');
    assert.ok(Number(again.headers.age) >= 11);
    assert.equal(origin.count(path), 1);
  });

  it('Vary variants stored by A are each served by B from L2; an unknown variant goes to the origin', async () => {
    const path = uniquePath('l2-vary');
    const seen: string[] = [];
    origin.handle(path, (req, res) => {
      const lang = String(req.headers['accept-language'] ?? 'none');
      seen.push(lang);
      res.writeHead(200, { 'cache-control': 'max-age=60', vary: 'Accept-Language', 'content-language': lang });
      res.end(`${path} in ${lang}`);
    });
    const en = { headers: { host: HOST, 'accept-language': 'en' } };
    const fr = { headers: { host: HOST, 'accept-language': 'fr' } };
    const de = { headers: { host: HOST, 'accept-language': 'de' } };
    assertMiss(await a.get(path, en), `${path} in en`);
    const frMiss = await a.get(path, fr);
    assertMiss(frMiss, `${path} in fr`);
    assert.match(cacheStatus(frMiss), /fwd=vary-miss/);
    await waitForL2(client, path, 3); // the Vary index and two variants

    const bFr = await b.get(path, fr);
    assertHit(bFr, 'l2', `${path} in fr`);
    assert.equal(bFr.headers['content-language'], 'fr');
    assert.equal(bFr.headers.vary, 'Accept-Language');
    const bEn = await b.get(path, en);
    assertHit(bEn, 'l2', `${path} in en`);
    assertHit(await b.get(path, fr), 'l1', `${path} in fr`);
    assertHit(await b.get(path, en), 'l1', `${path} in en`);
    assert.deepEqual(seen, ['en', 'fr']);

    const bDe = await b.get(path, de);
    assertMiss(bDe, `${path} in de`);
    assert.match(cacheStatus(bDe), /fwd=vary-miss/);
    assert.deepEqual(seen, ['en', 'fr', 'de']);
    await waitForL2(client, path, 4);
    assertHit(await a.get(path, de), 'l2', `${path} in de`);
    assert.equal(origin.count(path), 3);
  });

  it('an object over REDIS_MAX_OBJECT_SIZE stays in L1 only: B goes to the origin', async () => {
    const path = uniquePath('l2-large');
    const big = Buffer.alloc(100 * 1024, 'x');
    origin.handle(path, (_req, res) => {
      res.writeHead(200, { 'cache-control': 'max-age=60', 'content-length': String(big.length) });
      res.end(big);
    });
    const before = (await a.stats()).l2.tooLarge;
    const first = await a.get(path, ON_HOST);
    assert.equal(first.status, 200);
    assert.equal(first.raw.length, big.length);
    assert.match(cacheStatus(first), /fwd=uri-miss; fwd-status=200; stored/);
    const hit = await a.get(path, ON_HOST);
    assertHit(hit, 'l1');
    assert.ok(hit.raw.equals(big));
    assert.equal((await a.stats()).l2.tooLarge, before + 1);
    assert.equal(await client.exists(keyOf(path)), 0, 'nothing written to Redis');

    const fromB = await b.get(path, ON_HOST);
    assert.equal(fromB.status, 200);
    assert.match(cacheStatus(fromB), /^tiercel; fwd=uri-miss/);
    assert.ok(fromB.raw.equals(big));
    assert.equal(origin.count(path), 2);
  });

  it('promotion gives L1 no more lifetime than remains: B\'s ttl ≤ A\'s, and both expire together', async () => {
    const path = uniquePath('l2-promote');
    versioned(origin, path, { 'cache-control': 'max-age=3' });
    const stored = Date.now();
    assertMiss(await a.get(path, ON_HOST), `${path} v1`);
    await waitForL2(client, path);
    await sleep(Math.max(0, stored + 1200 - Date.now()));

    const fromA = await a.get(path, ON_HOST);
    const fromB = await b.get(path, ON_HOST);
    const ttlA = assertHit(fromA, 'l1', `${path} v1`);
    const ttlB = assertHit(fromB, 'l2', `${path} v1`);
    assert.ok(ttlB <= ttlA, `B's ttl ${ttlB} must not exceed A's ${ttlA}`);
    assert.ok(ttlB <= 1, `ttl ${ttlB} after 1.2 s of max-age=3`);
    assert.equal(fromB.headers.age, fromA.headers.age);
    const promoted = await b.get(path, ON_HOST);
    assert.ok(assertHit(promoted, 'l1') <= ttlA);

    // Past max-age neither instance serves it as fresh: both go to the origin.
    await sleep(Math.max(0, stored + 3300 - Date.now()));
    const lateB = await b.get(path, ON_HOST);
    assert.equal(lateB.status, 200);
    assert.doesNotMatch(cacheStatus(lateB), /; hit/, `B served an expired object: ${cacheStatus(lateB)}`);
    assert.equal(lateB.body, `${path} v2`);
    assert.equal(origin.count(path), 2);
  });

  it('/stats counts L1 and L2 hits, L2 misses and the hit rate', async () => {
    const path = uniquePath('l2-stats');
    versioned(origin, path);
    const a0 = await a.stats();
    const b0 = await b.stats();
    assertMiss(await b.get(path, ON_HOST)); // L1 miss, L2 miss, origin
    assertHit(await b.get(path, ON_HOST), 'l1');
    await waitForL2(client, path);
    assertHit(await a.get(path, ON_HOST), 'l2');
    assertHit(await a.get(path, ON_HOST), 'l1');
    assertHit(await a.get(path, ON_HOST), 'l1');
    const a1 = await a.stats();
    const b1 = await b.stats();

    assert.equal(b1.misses - b0.misses, 1);
    assert.equal(b1.l2Misses - b0.l2Misses, 1);
    assert.equal(b1.l1Hits - b0.l1Hits, 1);
    assert.equal(b1.l2Hits - b0.l2Hits, 0);
    assert.equal(b1.hits - b0.hits, 1);
    assert.equal(a1.l2Hits - a0.l2Hits, 1);
    assert.equal(a1.l1Hits - a0.l1Hits, 2);
    assert.equal(a1.hits - a0.hits, 3, 'hits count both tiers');
    assert.equal(a1.misses - a0.misses, 0);
    assert.equal(a1.l2Misses - a0.l2Misses, 0);
    assert.equal(a1.l2.hits - a0.l2.hits, 1);
    for (const s of [a1, b1]) {
      assert.equal(s.hits, s.l1Hits + s.l2Hits);
      assert.equal(s.hitRate, Number((s.hits / (s.hits + s.misses)).toFixed(4)));
      assert.equal(s.l2.breaker, 'closed');
      assert.equal(s.l2.connection, 'ready');
    }
    assert.ok(a1.hitRate > 0 && a1.hitRate <= 1);
    assert.equal(origin.count(path), 1);
  });

  it('the Redis entry is binary (TC header, body bytes verbatim) and lives for freshness + stale window + margin', async () => {
    const path = uniquePath('l2-binary');
    // Every byte value, twice: invalid UTF-8 and NULs that a text or JSON encoding would mangle.
    const body = Buffer.concat([Buffer.from(Array.from({ length: 256 }, (_, i) => i)), Buffer.from(Array.from({ length: 256 }, (_, i) => 255 - i))]);
    origin.handle(path, (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'cache-control': 'max-age=60, stale-while-revalidate=30, stale-if-error=120' });
      res.end(body);
    });
    const first = await a.get(path, ON_HOST);
    assert.equal(first.status, 200);
    assert.ok(first.raw.equals(body));
    await waitForL2(client, path);

    const raw = await client.hgetBuffer(keyOf(path), '');
    assert.ok(raw, 'the response is stored in the hash field ""');
    assert.equal(raw.subarray(0, 2).toString('latin1'), 'TC');
    assert.equal(raw[2], 1, 'format version');
    assert.equal(raw[3], 1, 'kind: response');
    const headerLength = raw.readUInt32BE(4);
    assert.equal(raw.length, 12 + headerLength + body.length, 'nothing but prefix, header and the body bytes');
    assert.ok(raw.subarray(raw.length - body.length).equals(body), 'body bytes appear verbatim at the end');
    assert.equal(raw.indexOf(body.toString('base64')), -1, 'no base64 copy of the body');
    const meta = JSON.parse(raw.subarray(12, 12 + headerLength).toString('utf8'));
    assert.equal(meta.s, 200);
    assert.equal(meta.lt, 60_000);

    // Usable for 60 s fresh + the longer stale window (both windows start at expiry: 120 s), plus the margin.
    const pttl = await client.pttl(keyOf(path));
    const expected = 60_000 + 120_000 + MARGIN_MS;
    assert.ok(pttl <= expected && pttl > expected - 5000, `PTTL ${pttl} ms, expected about ${expected} ms`);

    const fromB = await b.get(path, ON_HOST);
    assertHit(fromB, 'l2');
    assert.ok(fromB.raw.equals(body), 'B delivers the same bytes');
    assert.equal(fromB.headers['content-type'], 'application/octet-stream');
    assert.equal(origin.count(path), 1);
  });
});
