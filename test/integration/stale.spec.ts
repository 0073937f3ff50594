import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { sleep } from '../support/client';
import { cacheStatus, uniquePath, useReverseProxy, waitFor } from '../support/fixture';
import { startOrigin } from '../support/origin';
import { reverseProxy } from '../support/tiercel';

describe('stale-while-revalidate and stale-if-error (RFC 5861)', { concurrency: true }, () => {
  const f = useReverseProxy();

  it('stale-while-revalidate: serves stale at once, refreshes once in the background, then serves the new object', async () => {
    const path = uniquePath('swr');
    let n = 0;
    f.origin.handle(path, async (_req, res) => {
      res.sendDate = false;
      n++;
      if (n > 1) await sleep(800); // the refresh is slow: the stale answers must not wait for it
      res.writeHead(200, { 'cache-control': `max-age=${n > 1 ? 60 : 1}, stale-while-revalidate=30`, 'x-n': String(n) });
      res.end(`v${n}`);
    });
    const first = await f.proxy.get(path);
    assert.equal(first.body, 'v1');
    await sleep(1100);

    const stale = await Promise.all(Array.from({ length: 5 }, () => f.proxy.get(path)));
    for (const r of stale) {
      assert.equal(r.status, 200);
      assert.equal(r.body, 'v1');
      assert.equal(r.headers['x-n'], '1');
      assert.match(cacheStatus(r), /; hit; detail=l1; ttl=-\d+$/);
      assert.ok(r.ms < 400, `stale answer took ${r.ms} ms`);
    }
    await waitFor(() => f.origin.count(path) === 2, 2000, 'the background refresh');
    // One refresh only, however many stale requests came in.
    await sleep(1100); // the refresh's answer takes 800 ms
    assert.equal(f.origin.count(path), 2);

    const fresh = await f.proxy.get(path);
    assert.equal(fresh.status, 200);
    assert.equal(fresh.body, 'v2');
    assert.equal(fresh.headers['x-n'], '2');
    assert.match(cacheStatus(fresh), /; hit; detail=l1; ttl=(58|59|60)$/);
    assert.equal(f.origin.count(path), 2);
  });

  it('stale-while-revalidate with an ETag: the background refresh is conditional and a 304 renews the object', async () => {
    const path = uniquePath('swr-etag');
    f.origin.handle(path, (req, res) => {
      res.sendDate = false;
      if (req.headers['if-none-match'] === '"w1"') {
        res.writeHead(304, { etag: '"w1"', 'cache-control': 'max-age=60, stale-while-revalidate=30', 'x-renewed': 'yes' });
        return void res.end();
      }
      res.writeHead(200, { etag: '"w1"', 'cache-control': 'max-age=1, stale-while-revalidate=30' });
      res.end('renewable');
    });
    await f.proxy.get(path);
    await sleep(1100);
    const stale = await f.proxy.get(path);
    assert.equal(stale.status, 200);
    assert.equal(stale.body, 'renewable');
    assert.match(cacheStatus(stale), /; hit; detail=l1; ttl=-\d+$/);
    await waitFor(() => f.origin.count(path) === 2, 2000, 'the background refresh');
    assert.equal(f.origin.requests.filter((r) => r.url === path).at(-1)!.headers['if-none-match'], '"w1"');
    await sleep(50);
    const renewed = await f.proxy.get(path);
    assert.equal(renewed.status, 200);
    assert.equal(renewed.body, 'renewable');
    assert.equal(renewed.headers['x-renewed'], 'yes');
    assert.match(cacheStatus(renewed), /; hit; detail=l1; ttl=(58|59|60)$/);
    assert.equal(f.origin.count(path), 2);
  });

  it('a failed background refresh (origin 500) does not replace the good object', async () => {
    const path = uniquePath('swr-fail');
    let n = 0;
    f.origin.handle(path, (_req, res) => {
      res.sendDate = false;
      if (++n === 1) {
        res.writeHead(200, { 'cache-control': 'max-age=1, stale-while-revalidate=30' });
        return void res.end('good');
      }
      res.writeHead(500, { 'cache-control': 'max-age=60' });
      res.end('bad');
    });
    await f.proxy.get(path);
    await sleep(1100);
    const stale = await f.proxy.get(path);
    assert.equal(stale.status, 200);
    assert.equal(stale.body, 'good');
    await waitFor(() => f.origin.count(path) === 2, 2000, 'the background refresh');
    await sleep(50);
    const after = await f.proxy.get(path);
    assert.equal(after.status, 200);
    assert.equal(after.body, 'good');
    assert.match(cacheStatus(after), /; hit; detail=l1; ttl=-\d+$/);
  });

  it('stale-if-error: an origin 500 on revalidation is replaced by the stale object', async () => {
    const path = uniquePath('sie-500');
    let n = 0;
    f.origin.handle(path, (_req, res) => {
      res.sendDate = false;
      if (++n === 1) {
        res.writeHead(200, { 'cache-control': 'max-age=1, stale-if-error=30', 'content-type': 'text/plain' });
        return void res.end('still good');
      }
      res.writeHead(500, { 'content-type': 'text/plain' });
      res.end('broken');
    });
    await f.proxy.get(path);
    await sleep(1100);
    const r = await f.proxy.get(path);
    assert.equal(r.status, 200);
    assert.equal(r.body, 'still good');
    assert.equal(r.headers['content-type'], 'text/plain');
    assert.match(cacheStatus(r), /; fwd=stale; fwd-status=500; ttl=-\d+; detail=stale-if-error-origin-error$/);
    assert.equal(f.origin.count(path), 2);
  });

  it('without stale-if-error an origin 500 on revalidation reaches the client', async () => {
    const path = uniquePath('no-sie-500');
    let n = 0;
    f.origin.handle(path, (_req, res) => {
      res.sendDate = false;
      if (++n === 1) {
        res.writeHead(200, { 'cache-control': 'max-age=1', etag: '"x"' });
        return void res.end('good');
      }
      res.writeHead(500);
      res.end('broken');
    });
    await f.proxy.get(path);
    await sleep(1100);
    const r = await f.proxy.get(path);
    assert.equal(r.status, 500);
    assert.equal(r.body, 'broken');
    assert.equal(f.origin.count(path), 2);
  });

  it('a request stale-if-error directive allows the stale object on an origin 500', async () => {
    const path = uniquePath('req-sie-500');
    let n = 0;
    f.origin.handle(path, (_req, res) => {
      res.sendDate = false;
      if (++n === 1) {
        res.writeHead(200, { 'cache-control': 'max-age=1', etag: '"y"' });
        return void res.end('good');
      }
      res.writeHead(503);
      res.end('down');
    });
    await f.proxy.get(path);
    await sleep(1100);
    const r = await f.proxy.get(path, { headers: { 'cache-control': 'stale-if-error=60' } });
    assert.equal(r.status, 200);
    assert.equal(r.body, 'good');
    assert.match(cacheStatus(r), /detail=stale-if-error-origin-error/);
  });
});

describe('stale-if-error when the origin is down', () => {
  it('serves the stale object when the origin cannot be reached', async () => {
    const origin = await startOrigin();
    const proxy = await reverseProxy(origin.url);
    try {
      const path = uniquePath('sie-down');
      origin.handle(path, (_req, res) => {
        res.sendDate = false;
        res.writeHead(200, { 'cache-control': 'max-age=1, stale-if-error=30' });
        res.end('survivor');
      });
      const first = await proxy.get(path);
      assert.equal(first.body, 'survivor');
      await origin.close();
      await sleep(1100);
      const r = await proxy.get(path);
      assert.equal(r.status, 200);
      assert.equal(r.body, 'survivor');
      assert.match(cacheStatus(r), /; fwd=stale; ttl=-\d+; detail=stale-if-error-(connect-error|reset)$/);
      assert.equal(origin.count(path), 1);

      // A URL never stored gets the plain 502.
      const other = await proxy.get(uniquePath('sie-down-other'));
      assert.equal(other.status, 502);
    } finally {
      await proxy.close();
      await origin.close().catch(() => {});
    }
  });
});
