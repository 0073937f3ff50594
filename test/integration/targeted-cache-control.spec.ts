import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { cacheStatus, uniquePath, useReverseProxy } from '../support/fixture';

describe('targeted cache control in reverse mode (RFC 9213): Tiercel-Cache-Control > CDN-Cache-Control > Cache-Control', () => {
  const f = useReverseProxy();

  it('CDN-Cache-Control max-age stores a response Cache-Control forbids storing, and is forwarded', async () => {
    const path = uniquePath('cdn-fresh');
    f.origin.handle(path, (_req, res) => {
      res.writeHead(200, { 'cache-control': 'no-store', 'cdn-cache-control': 'max-age=60' });
      res.end('for the cdn');
    });
    const first = await f.proxy.get(path);
    assert.equal(first.body, 'for the cdn');
    assert.match(cacheStatus(first), /; stored; ttl=60; detail=cdn-cache-control$/);
    const second = await f.proxy.get(path);
    assert.match(cacheStatus(second), /; hit;/);
    // Downstream caches keep their own instructions; CDN-class caches further down see theirs.
    assert.equal(second.headers['cache-control'], 'no-store');
    assert.equal(second.headers['cdn-cache-control'], 'max-age=60');
    assert.equal(f.origin.count(path), 1);
  });

  it('CDN-Cache-Control no-store wins over a fresh Cache-Control and Expires', async () => {
    const path = uniquePath('cdn-no-store');
    f.origin.handle(path, (_req, res) => {
      res.writeHead(200, { 'cache-control': 'max-age=3600', expires: new Date(Date.now() + 3600_000).toUTCString(), 'cdn-cache-control': 'no-store' });
      res.end('x');
    });
    await f.proxy.get(path);
    const second = await f.proxy.get(path);
    assert.doesNotMatch(cacheStatus(second), /; hit/);
    assert.equal(f.origin.count(path), 2);
  });

  it('a short CDN-Cache-Control max-age wins over a long Cache-Control max-age', async () => {
    const path = uniquePath('cdn-short');
    f.origin.handle(path, (_req, res) => {
      res.writeHead(200, { 'cache-control': 'max-age=3600', 'cdn-cache-control': 'max-age=0' });
      res.end('x');
    });
    await f.proxy.get(path);
    await f.proxy.get(path);
    assert.equal(f.origin.count(path), 2);
  });

  it('Tiercel-Cache-Control (named after CACHE_NAME) wins over CDN-Cache-Control', async () => {
    const path = uniquePath('own-field');
    f.origin.handle(path, (_req, res) => {
      res.writeHead(200, { 'cache-control': 'max-age=3600', 'cdn-cache-control': 'max-age=3600', 'tiercel-cache-control': 'private' });
      res.end('x');
    });
    const first = await f.proxy.get(path);
    assert.match(cacheStatus(first), /detail=private$/);
    await f.proxy.get(path);
    assert.equal(f.origin.count(path), 2);

    const path2 = uniquePath('own-field-fresh');
    f.origin.handle(path2, (_req, res) => {
      res.writeHead(200, { 'cdn-cache-control': 'no-store', 'tiercel-cache-control': 'max-age=30' });
      res.end('y');
    });
    const a = await f.proxy.get(path2);
    assert.match(cacheStatus(a), /; stored; ttl=30; detail=tiercel-cache-control$/);
    const b = await f.proxy.get(path2);
    assert.match(cacheStatus(b), /; hit;/);
    assert.equal(f.origin.count(path2), 1);
  });

  it('an invalid targeted field is ignored and Cache-Control governs', async () => {
    const path = uniquePath('cdn-invalid');
    f.origin.handle(path, (_req, res) => {
      res.writeHead(200, { 'cache-control': 'no-store', 'cdn-cache-control': 'max-age="10000"' });
      res.end('x');
    });
    const first = await f.proxy.get(path);
    assert.match(cacheStatus(first), /detail=no-store$/);
    await f.proxy.get(path);
    assert.equal(f.origin.count(path), 2);
  });
});
