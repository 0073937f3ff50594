import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { cacheStatus, uniquePath, useReverseProxy } from '../support/fixture';
import type { TestOrigin } from '../support/origin';

function cookieRoute(origin: TestOrigin, path: string): void {
  let n = 0;
  origin.handle(path, (_req, res) => {
    n++;
    res.writeHead(200, { 'cache-control': 'max-age=60', 'set-cookie': [`session=s${n}; Path=/`, 'theme=dark'], 'content-type': 'text/plain' });
    res.end(`page ${n}`);
  });
}

describe('Set-Cookie (default: responses with cookies are not stored)', () => {
  const f = useReverseProxy();

  it('a response with Set-Cookie is delivered with its cookie but not stored', async () => {
    const path = uniquePath('cookie-default');
    cookieRoute(f.origin, path);
    const first = await f.proxy.get(path);
    assert.equal(first.status, 200);
    assert.equal(first.body, 'page 1');
    assert.deepEqual(first.headers['set-cookie'], ['session=s1; Path=/', 'theme=dark']);
    assert.match(cacheStatus(first), /; fwd=uri-miss; fwd-status=200; detail=set-cookie$/);
    const second = await f.proxy.get(path);
    assert.equal(second.body, 'page 2');
    assert.deepEqual(second.headers['set-cookie'], ['session=s2; Path=/', 'theme=dark']);
    // The key is now hit-for-pass, so the reason shows as that; either way nothing was served from the cache.
    assert.match(cacheStatus(second), /; fwd=uri-miss; fwd-status=200; detail=(set-cookie|hit-for-pass)$/);
    assert.equal(f.origin.count(path), 2);
  });

  it('a Set-Cookie on a 304 revalidation never reaches later clients from the stored object', async () => {
    const path = uniquePath('cookie-304-default');
    f.origin.handle(path, (req, res) => {
      res.sendDate = false;
      if (req.headers['if-none-match'] === '"k"') {
        res.writeHead(304, { etag: '"k"', 'cache-control': 'max-age=60', 'set-cookie': 'session=alice-secret' });
        return void res.end();
      }
      res.writeHead(200, { etag: '"k"', 'cache-control': 'max-age=0' });
      res.end('shared body');
    });
    const first = await f.proxy.get(path);
    assert.match(cacheStatus(first), /; stored/);
    // Alice's revalidation: the origin's 304 sets her cookie.
    const alice = await f.proxy.get(path);
    assert.equal(alice.status, 200);
    assert.equal(alice.body, 'shared body');
    assert.match(cacheStatus(alice), /fwd-status=304/);
    // Bob is served from the cache and must not receive Alice's session.
    const bob = await f.proxy.get(path);
    assert.equal(bob.status, 200);
    assert.equal(bob.body, 'shared body');
    assert.match(cacheStatus(bob), /; hit/);
    assert.equal(bob.headers['set-cookie'], undefined);
    assert.equal(f.origin.count(path), 2);
  });
});

describe('Set-Cookie with CACHE_STRIP_SET_COOKIE=true', () => {
  const f = useReverseProxy({ CACHE_STRIP_SET_COOKIE: 'true' });

  it('stores the response without its cookies: the first client gets them, the next does not', async () => {
    const path = uniquePath('cookie-strip');
    cookieRoute(f.origin, path);
    const first = await f.proxy.get(path);
    assert.equal(first.status, 200);
    assert.equal(first.body, 'page 1');
    assert.deepEqual(first.headers['set-cookie'], ['session=s1; Path=/', 'theme=dark']);
    assert.match(cacheStatus(first), /; stored; ttl=60$/);

    const second = await f.proxy.get(path);
    assert.equal(second.status, 200);
    assert.equal(second.body, 'page 1');
    assert.equal(second.headers['set-cookie'], undefined);
    assert.equal(second.headers['content-type'], 'text/plain');
    assert.match(cacheStatus(second), /; hit; detail=l1/);
    assert.equal(f.origin.count(path), 1);

    const head = await f.proxy.get(path, { method: 'HEAD' });
    assert.equal(head.headers['set-cookie'], undefined);
  });

  it('a revalidated object does not pick up the 304\'s Set-Cookie', async () => {
    const path = uniquePath('cookie-strip-304');
    f.origin.handle(path, (req, res) => {
      res.sendDate = false;
      if (req.headers['if-none-match'] === '"c"') {
        res.writeHead(304, { etag: '"c"', 'cache-control': 'max-age=60', 'set-cookie': 'session=from-304' });
        return void res.end();
      }
      res.writeHead(200, { etag: '"c"', 'cache-control': 'max-age=0', 'set-cookie': 'session=first' });
      res.end('body');
    });
    await f.proxy.get(path);
    const revalidated = await f.proxy.get(path);
    assert.equal(revalidated.status, 200);
    assert.equal(revalidated.body, 'body');
    assert.match(cacheStatus(revalidated), /fwd-status=304/);
    const hit = await f.proxy.get(path);
    assert.match(cacheStatus(hit), /; hit/);
    assert.equal(hit.headers['set-cookie'], undefined);
    assert.equal(f.origin.count(path), 2);
  });
});
