import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { sleep } from '../support/client';
import { cacheStatus, uniquePath, useReverseProxy } from '../support/fixture';

describe('response Cache-Control directives (RFC 9111 §5.2.2)', () => {
  const f = useReverseProxy();

  it('no-store: never stored', async () => {
    const path = uniquePath('no-store');
    f.origin.handle(path, (_req, res) => {
      res.writeHead(200, { 'cache-control': 'no-store, max-age=60' });
      res.end('secret');
    });
    const first = await f.proxy.get(path);
    assert.equal(first.status, 200);
    assert.equal(first.body, 'secret');
    assert.equal(first.headers['cache-control'], 'no-store, max-age=60');
    assert.match(cacheStatus(first), /; fwd=uri-miss; fwd-status=200; detail=no-store$/);
    const second = await f.proxy.get(path);
    assert.equal(second.body, 'secret');
    assert.doesNotMatch(cacheStatus(second), /; hit/);
    assert.equal(f.origin.count(path), 2);
  });

  it('private: never stored by a shared cache', async () => {
    const path = uniquePath('private');
    f.origin.handle(path, (_req, res) => {
      res.writeHead(200, { 'cache-control': 'private, max-age=60' });
      res.end('mine');
    });
    const first = await f.proxy.get(path);
    assert.equal(first.status, 200);
    assert.equal(first.body, 'mine');
    assert.match(cacheStatus(first), /detail=private$/);
    const second = await f.proxy.get(path);
    assert.equal(second.body, 'mine');
    assert.doesNotMatch(cacheStatus(second), /; hit/);
    assert.equal(f.origin.count(path), 2);
  });

  it('no-cache: stored, but every use is revalidated with If-None-Match', async () => {
    const path = uniquePath('no-cache');
    f.origin.handle(path, (req, res) => {
      if (req.headers['if-none-match'] === '"nc1"') {
        res.writeHead(304, { etag: '"nc1"', 'cache-control': 'no-cache, max-age=60' });
        return void res.end();
      }
      res.writeHead(200, { 'cache-control': 'no-cache, max-age=60', etag: '"nc1"', 'content-type': 'text/plain' });
      res.end('validated body');
    });
    const first = await f.proxy.get(path);
    assert.equal(first.status, 200);
    assert.equal(first.body, 'validated body');
    assert.match(cacheStatus(first), /; stored/);
    assert.equal(f.origin.requests.at(-1)!.headers['if-none-match'], undefined);

    for (let i = 2; i <= 3; i++) {
      const again = await f.proxy.get(path);
      assert.equal(again.status, 200);
      assert.equal(again.body, 'validated body');
      assert.equal(again.headers['content-length'], String('validated body'.length));
      assert.match(cacheStatus(again), /fwd-status=304/);
      assert.equal(f.origin.count(path), i);
      const seen = f.origin.requests.at(-1)!;
      assert.equal(seen.url, path);
      assert.equal(seen.headers['if-none-match'], '"nc1"');
    }
  });

  for (const directive of ['must-revalidate', 'proxy-revalidate', 's-maxage=1']) {
    it(`${directive}: a stale object is never served stale (no stale-while-revalidate, no stale-if-error)`, async () => {
      const path = uniquePath(`forbid-stale-${directive.replace('=', '')}`);
      let n = 0;
      f.origin.handle(path, (_req, res) => {
        res.sendDate = false;
        if (++n === 1) {
          res.writeHead(200, { 'cache-control': `max-age=1, ${directive}, stale-while-revalidate=60, stale-if-error=60` });
          return void res.end('good');
        }
        res.writeHead(500, { 'content-type': 'text/plain' });
        res.end('origin broke');
      });
      const first = await f.proxy.get(path);
      assert.equal(first.status, 200);
      assert.match(cacheStatus(first), /; stored; ttl=1$/);
      const fresh = await f.proxy.get(path);
      assert.equal(fresh.body, 'good');
      assert.equal(f.origin.count(path), 1);
      await sleep(1100);
      const stale = await f.proxy.get(path);
      // The origin must be asked synchronously, and its error delivered instead of the stale object.
      assert.equal(stale.status, 500);
      assert.equal(stale.body, 'origin broke');
      assert.doesNotMatch(cacheStatus(stale), /; hit|stale-if-error/);
      assert.equal(f.origin.count(path), 2);
    });
  }

  it('without must-revalidate the same object is served stale (control for the test above)', async () => {
    const path = uniquePath('allow-stale');
    let n = 0;
    f.origin.handle(path, (_req, res) => {
      res.sendDate = false;
      if (++n === 1) {
        res.writeHead(200, { 'cache-control': 'max-age=1, stale-if-error=60' });
        return void res.end('good');
      }
      res.writeHead(500);
      res.end('origin broke');
    });
    await f.proxy.get(path);
    await sleep(1100);
    const stale = await f.proxy.get(path);
    assert.equal(stale.status, 200);
    assert.equal(stale.body, 'good');
    assert.equal(f.origin.count(path), 2);
  });

  it('a request with Authorization: the response is not stored', async () => {
    const path = uniquePath('auth');
    f.origin.handle(path, (req, res) => {
      res.writeHead(200, { 'cache-control': 'max-age=60' });
      res.end(`for ${req.headers.authorization}`);
    });
    const first = await f.proxy.get(path, { headers: { authorization: 'Bearer alice' } });
    assert.equal(first.status, 200);
    assert.equal(first.body, 'for Bearer alice');
    assert.match(cacheStatus(first), /detail=authorization$/);
    assert.equal(f.origin.requests.at(-1)!.headers.authorization, 'Bearer alice');
    const second = await f.proxy.get(path, { headers: { authorization: 'Bearer bob' } });
    assert.equal(second.body, 'for Bearer bob');
    const anonymous = await f.proxy.get(path);
    assert.equal(anonymous.body, 'for undefined');
    assert.equal(f.origin.count(path), 3);
  });

  for (const cc of ['public, max-age=60', 's-maxage=60', 'must-revalidate, max-age=60']) {
    it(`a request with Authorization: stored when the response says ${cc}`, async () => {
      const path = uniquePath('auth-ok');
      f.origin.handle(path, (_req, res) => {
        res.writeHead(200, { 'cache-control': cc });
        res.end('shared anyway');
      });
      const first = await f.proxy.get(path, { headers: { authorization: 'Bearer alice' } });
      assert.equal(first.status, 200);
      assert.match(cacheStatus(first), /; stored; ttl=60$/);
      const second = await f.proxy.get(path, { headers: { authorization: 'Bearer alice' } });
      assert.equal(second.status, 200);
      assert.equal(second.body, 'shared anyway');
      assert.match(cacheStatus(second), /; hit; /);
      assert.equal(f.origin.count(path), 1);
    });
  }
});
