import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startOrigin, TestOrigin } from '../support/origin';
import { reverseProxy, TestProxy } from '../support/tiercel';

describe('reverse mode: miss, store, hit', () => {
  let origin: TestOrigin;
  let proxy: TestProxy;

  before(async () => {
    origin = await startOrigin();
    proxy = await reverseProxy(origin.url);
  });
  after(async () => {
    await proxy.close();
    await origin.close();
  });

  it('serves the second request from L1 with Age and Cache-Status', async () => {
    origin.handle('/fresh', (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain', 'cache-control': 'max-age=60', etag: '"v1"' });
      res.end('hello');
    });
    const first = await proxy.get('/fresh');
    assert.equal(first.status, 200);
    assert.equal(first.body, 'hello');
    assert.match(String(first.headers['cache-status']), /^tiercel; fwd=uri-miss; fwd-status=200; stored; ttl=60$/);
    assert.equal(first.headers['x-cache'], 'MISS');

    const second = await proxy.get('/fresh');
    assert.equal(second.status, 200);
    assert.equal(second.body, 'hello');
    // RFC 9111 §4.2.3: the origin's Date has one-second resolution, so the apparent age can reach
    // just over a second by the hit, and the remaining life then floors to 58.
    assert.match(String(second.headers['cache-status']), /^tiercel; hit; detail=l1; ttl=(58|59|60)$/);
    assert.equal(second.headers['x-cache'], 'HIT');
    assert.equal(second.headers.age, '0');
    assert.equal(second.headers['content-length'], '5');
    assert.equal(origin.count('/fresh'), 1);

    const stats = await proxy.stats();
    assert.equal(stats.l1Hits, 1);
    assert.equal(stats.misses, 1);
    assert.equal(stats.hitRate, 0.5);
  });

  it('does not store a response without freshness information', async () => {
    origin.handle('/plain', (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('x');
    });
    await proxy.get('/plain');
    const second = await proxy.get('/plain');
    assert.match(String(second.headers['cache-status']), /fwd=uri-miss/);
    assert.equal(origin.count('/plain'), 2);
  });
});
