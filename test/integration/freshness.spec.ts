import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { sleep } from '../support/client';
import { cacheStatus, uniquePath, useReverseProxy } from '../support/fixture';

const httpDate = (ms: number) => new Date(ms).toUTCString();

describe('freshness lifetime (RFC 9111 §4.2)', () => {
  const f = useReverseProxy();

  it('s-maxage wins over max-age', async () => {
    const path = uniquePath('smaxage');
    f.origin.handle(path, (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain', 'cache-control': 'max-age=5, s-maxage=60' });
      res.end('shared');
    });
    const first = await f.proxy.get(path);
    assert.equal(first.status, 200);
    assert.equal(first.body, 'shared');
    assert.match(cacheStatus(first), /; fwd=uri-miss; fwd-status=200; stored; ttl=60$/);
    const second = await f.proxy.get(path);
    assert.equal(second.status, 200);
    assert.equal(second.body, 'shared');
    // Date has one-second resolution (RFC 9110 §5.6.7): the apparent age alone may be up to 1 s, so 58 is right too.
    assert.match(cacheStatus(second), /; hit; detail=l1; ttl=(58|59|60)$/);
    assert.equal(f.origin.count(path), 1);
  });

  it('max-age wins over Expires (even an Expires in the past)', async () => {
    const path = uniquePath('maxage-expires');
    f.origin.handle(path, (_req, res) => {
      const now = Date.now();
      res.writeHead(200, { 'cache-control': 'max-age=60', date: httpDate(now), expires: httpDate(now - 3_600_000) });
      res.end('max-age');
    });
    const first = await f.proxy.get(path);
    assert.match(cacheStatus(first), /; stored; ttl=60$/);
    const second = await f.proxy.get(path);
    assert.equal(second.status, 200);
    assert.equal(second.body, 'max-age');
    assert.match(cacheStatus(second), /; hit; /);
    assert.equal(f.origin.count(path), 1);
  });

  it('Expires minus Date gives the lifetime when there is no max-age', async () => {
    const path = uniquePath('expires');
    f.origin.handle(path, (_req, res) => {
      const now = Math.floor(Date.now() / 1000) * 1000;
      res.writeHead(200, { date: httpDate(now), expires: httpDate(now + 30_000) });
      res.end('expires');
    });
    const first = await f.proxy.get(path);
    assert.equal(first.status, 200);
    assert.match(cacheStatus(first), /; fwd=uri-miss; fwd-status=200; stored; ttl=30$/);
    const second = await f.proxy.get(path);
    assert.equal(second.body, 'expires');
    assert.match(cacheStatus(second), /; hit; detail=l1; ttl=(28|29|30)$/);
    assert.equal(f.origin.count(path), 1);
  });

  it('an Expires in the past means already stale: not stored', async () => {
    const path = uniquePath('expires-past');
    f.origin.handle(path, (_req, res) => {
      const now = Date.now();
      res.writeHead(200, { date: httpDate(now), expires: httpDate(now - 60_000) });
      res.end('old');
    });
    const first = await f.proxy.get(path);
    assert.equal(first.status, 200);
    assert.equal(first.body, 'old');
    assert.doesNotMatch(cacheStatus(first), /stored/);
    assert.match(cacheStatus(first), /detail=no-freshness/);
    const second = await f.proxy.get(path);
    assert.match(cacheStatus(second), /fwd=uri-miss/);
    assert.equal(f.origin.count(path), 2);
  });

  it('an invalid Expires ("0") means already stale: not stored', async () => {
    const path = uniquePath('expires-invalid');
    f.origin.handle(path, (_req, res) => {
      res.writeHead(200, { expires: '0' });
      res.end('zero');
    });
    const first = await f.proxy.get(path);
    assert.equal(first.body, 'zero');
    assert.doesNotMatch(cacheStatus(first), /stored/);
    const second = await f.proxy.get(path);
    assert.equal(second.body, 'zero');
    assert.match(cacheStatus(second), /fwd=uri-miss/);
    assert.equal(f.origin.count(path), 2);
  });

  it('heuristic freshness: 10% of Date minus Last-Modified for a 200', async () => {
    const path = uniquePath('heuristic-200');
    f.origin.handle(path, (_req, res) => {
      const now = Math.floor(Date.now() / 1000) * 1000;
      res.writeHead(200, { date: httpDate(now), 'last-modified': httpDate(now - 1_000_000) });
      res.end('heuristic');
    });
    const first = await f.proxy.get(path);
    assert.equal(first.status, 200);
    assert.match(cacheStatus(first), /; stored; ttl=100$/);
    const second = await f.proxy.get(path);
    assert.equal(second.body, 'heuristic');
    assert.match(cacheStatus(second), /; hit; detail=l1; ttl=(99|100)$/);
    assert.equal(f.origin.count(path), 1);
  });

  it('no heuristic freshness for a 302: not stored, the next request goes to the origin', async () => {
    const path = uniquePath('heuristic-302');
    f.origin.handle(path, (_req, res) => {
      const now = Math.floor(Date.now() / 1000) * 1000;
      res.writeHead(302, { location: '/elsewhere', date: httpDate(now), 'last-modified': httpDate(now - 1_000_000) });
      res.end('moved');
    });
    const first = await f.proxy.get(path);
    assert.equal(first.status, 302);
    assert.equal(first.headers.location, '/elsewhere');
    assert.equal(first.body, 'moved');
    // RFC 9111 §3: without explicit freshness a 302 (not heuristically cacheable) must not be stored.
    assert.doesNotMatch(cacheStatus(first), /stored/);
    const second = await f.proxy.get(path);
    assert.equal(second.status, 302);
    assert.match(cacheStatus(second), /fwd=uri-miss/);
    assert.equal(f.origin.count(path), 2);
    // Not stored, so the origin never receives a conditional request on Tiercel's behalf.
    assert.equal(f.origin.requests.filter((r) => r.url === path && r.headers['if-modified-since'] !== undefined).length, 0);
  });

  it('a 302 with explicit max-age is stored', async () => {
    const path = uniquePath('redirect-maxage');
    f.origin.handle(path, (_req, res) => {
      res.writeHead(302, { location: '/there', 'cache-control': 'max-age=60' });
      res.end();
    });
    const first = await f.proxy.get(path);
    assert.equal(first.status, 302);
    assert.match(cacheStatus(first), /; stored; ttl=60$/);
    const second = await f.proxy.get(path);
    assert.equal(second.status, 302);
    assert.equal(second.headers.location, '/there');
    assert.match(cacheStatus(second), /; hit; /);
    assert.equal(f.origin.count(path), 1);
  });

  it('a response without any freshness information is not stored', async () => {
    const path = uniquePath('none');
    f.origin.handle(path, (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('nothing');
    });
    const first = await f.proxy.get(path);
    assert.equal(first.body, 'nothing');
    assert.match(cacheStatus(first), /; fwd=uri-miss; fwd-status=200; detail=no-freshness$/);
    const second = await f.proxy.get(path);
    assert.equal(second.body, 'nothing');
    assert.match(cacheStatus(second), /fwd=uri-miss/);
    assert.equal(f.origin.count(path), 2);
  });

  it('Age counts the time the object spent stored', async () => {
    const path = uniquePath('age-grows');
    f.origin.handle(path, (_req, res) => {
      // No Date: the response time is the only clock, so the apparent age starts at 0.
      res.sendDate = false;
      res.writeHead(200, { 'cache-control': 'max-age=60' });
      res.end('aging');
    });
    const first = await f.proxy.get(path);
    assert.equal(first.status, 200);
    const early = await f.proxy.get(path);
    assert.equal(early.headers.age, '0');
    await sleep(1100);
    const later = await f.proxy.get(path);
    assert.equal(later.status, 200);
    assert.equal(later.body, 'aging');
    assert.ok(Number(later.headers.age) >= 1, `Age ${later.headers.age}`);
    assert.match(cacheStatus(later), /; hit; detail=l1; ttl=(58|59)$/);
    assert.equal(f.origin.count(path), 1);
  });

  it('Age from the origin is added to the stored age', async () => {
    const path = uniquePath('age-origin');
    f.origin.handle(path, (_req, res) => {
      res.sendDate = false;
      res.writeHead(200, { 'cache-control': 'max-age=60', age: '30' });
      res.end('already old');
    });
    const first = await f.proxy.get(path);
    assert.equal(first.status, 200);
    const second = await f.proxy.get(path);
    assert.equal(second.body, 'already old');
    assert.equal(second.headers.age, '30');
    assert.match(cacheStatus(second), /; hit; detail=l1; ttl=(28|29|30)$/);
    assert.equal(f.origin.count(path), 1);
  });

  it('an object whose origin Age already exceeds max-age is stale on arrival', async () => {
    const path = uniquePath('age-exceeds');
    f.origin.handle(path, (_req, res) => {
      res.sendDate = false;
      res.writeHead(200, { 'cache-control': 'max-age=10', age: '20' });
      res.end('too old');
    });
    await f.proxy.get(path);
    const second = await f.proxy.get(path);
    assert.equal(second.body, 'too old');
    assert.doesNotMatch(cacheStatus(second), /; hit/);
    assert.equal(f.origin.count(path), 2);
  });
});

describe('CACHE_DEFAULT_TTL', () => {
  const f = useReverseProxy({ CACHE_DEFAULT_TTL: '30s' });

  it('stores a heuristically cacheable response without freshness for the default TTL', async () => {
    const path = uniquePath('default-ttl');
    f.origin.handle(path, (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('defaulted');
    });
    const first = await f.proxy.get(path);
    assert.equal(first.status, 200);
    assert.match(cacheStatus(first), /; fwd=uri-miss; fwd-status=200; stored; ttl=30$/);
    const second = await f.proxy.get(path);
    assert.equal(second.status, 200);
    assert.equal(second.body, 'defaulted');
    assert.match(cacheStatus(second), /; hit; detail=l1; ttl=(28|29|30)$/);
    assert.equal(f.origin.count(path), 1);
  });

  it('explicit max-age still wins over the default TTL', async () => {
    const path = uniquePath('default-ttl-explicit');
    f.origin.handle(path, (_req, res) => {
      res.writeHead(200, { 'cache-control': 'max-age=5' });
      res.end('explicit');
    });
    const first = await f.proxy.get(path);
    assert.match(cacheStatus(first), /; stored; ttl=5$/);
  });

  it('does not apply to a 302 (not heuristically cacheable)', async () => {
    const path = uniquePath('default-ttl-302');
    f.origin.handle(path, (_req, res) => {
      res.writeHead(302, { location: '/x' });
      res.end();
    });
    const first = await f.proxy.get(path);
    assert.equal(first.status, 302);
    assert.doesNotMatch(cacheStatus(first), /stored/);
    await f.proxy.get(path);
    assert.equal(f.origin.count(path), 2);
  });
});
