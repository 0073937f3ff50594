import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { sleep } from '../support/client';
import { cacheStatus, uniquePath, useReverseProxy } from '../support/fixture';

describe('revalidation and conditional requests (RFC 9111 §4.3)', () => {
  const f = useReverseProxy();

  it('a stale object with an ETag is revalidated with If-None-Match; a 304 updates headers and freshness', async () => {
    const path = uniquePath('reval-etag');
    f.origin.handle(path, (req, res) => {
      res.sendDate = false;
      if (req.headers['if-none-match'] === '"e1"') {
        res.writeHead(304, { etag: '"e1"', 'cache-control': 'max-age=60', 'x-version': '2' });
        return void res.end();
      }
      res.writeHead(200, { etag: '"e1"', 'cache-control': 'max-age=1', 'x-version': '1', 'content-type': 'text/plain' });
      res.end('full body one');
    });
    const first = await f.proxy.get(path);
    assert.equal(first.status, 200);
    assert.equal(first.headers['x-version'], '1');
    assert.match(cacheStatus(first), /; stored; ttl=1$/);
    await sleep(1100);

    const revalidated = await f.proxy.get(path);
    assert.equal(revalidated.status, 200);
    assert.equal(revalidated.body, 'full body one');
    assert.equal(revalidated.headers['content-length'], String('full body one'.length));
    assert.equal(revalidated.headers['content-type'], 'text/plain');
    assert.equal(revalidated.headers['x-version'], '2');
    assert.equal(revalidated.headers['cache-control'], 'max-age=60');
    assert.match(cacheStatus(revalidated), /; fwd=stale; fwd-status=304; ttl=(58|59|60)$/);
    assert.equal(f.origin.count(path), 2);
    const conditional = f.origin.requests.at(-1)!;
    assert.equal(conditional.url, path);
    assert.equal(conditional.headers['if-none-match'], '"e1"');

    // The new freshness holds: the next request is a hit with the updated header.
    const hit = await f.proxy.get(path);
    assert.equal(hit.status, 200);
    assert.equal(hit.body, 'full body one');
    assert.equal(hit.headers['x-version'], '2');
    assert.match(cacheStatus(hit), /; hit; detail=l1; ttl=(58|59|60)$/);
    assert.equal(f.origin.count(path), 2);
  });

  it('a stale object with Last-Modified is revalidated with If-Modified-Since', async () => {
    const path = uniquePath('reval-lm');
    const lastModified = new Date(Date.now() - 86_400_000).toUTCString();
    f.origin.handle(path, (req, res) => {
      res.sendDate = false;
      if (req.headers['if-modified-since'] === lastModified) {
        res.writeHead(304, { 'cache-control': 'max-age=60', 'last-modified': lastModified });
        return void res.end();
      }
      res.writeHead(200, { 'last-modified': lastModified, 'cache-control': 'max-age=1' });
      res.end('dated body');
    });
    await f.proxy.get(path);
    await sleep(1100);
    const revalidated = await f.proxy.get(path);
    assert.equal(revalidated.status, 200);
    assert.equal(revalidated.body, 'dated body');
    assert.equal(revalidated.headers['last-modified'], lastModified);
    assert.match(cacheStatus(revalidated), /fwd-status=304/);
    assert.equal(f.origin.count(path), 2);
    const conditional = f.origin.requests.at(-1)!;
    assert.equal(conditional.headers['if-modified-since'], lastModified);
    assert.equal(conditional.headers['if-none-match'], undefined);
    const hit = await f.proxy.get(path);
    assert.match(cacheStatus(hit), /; hit/);
    assert.equal(f.origin.count(path), 2);
  });

  it('a stale object replaced by a 200 on revalidation serves the new body', async () => {
    const path = uniquePath('reval-replaced');
    let n = 0;
    f.origin.handle(path, (_req, res) => {
      res.sendDate = false;
      n++;
      res.writeHead(200, { etag: `"r${n}"`, 'cache-control': n === 1 ? 'max-age=1' : 'max-age=60' });
      res.end(`body ${n}`);
    });
    await f.proxy.get(path);
    await sleep(1100);
    const replaced = await f.proxy.get(path);
    assert.equal(replaced.status, 200);
    assert.equal(replaced.body, 'body 2');
    assert.equal(replaced.headers.etag, '"r2"');
    assert.equal(f.origin.requests.at(-1)!.headers['if-none-match'], '"r1"');
    const hit = await f.proxy.get(path);
    assert.equal(hit.body, 'body 2');
    assert.match(cacheStatus(hit), /; hit/);
    assert.equal(f.origin.count(path), 2);
  });

  it('a client If-None-Match matching a fresh stored object gets a 304 from the cache, no body, no origin request', async () => {
    const path = uniquePath('client-inm-hit');
    f.origin.handle(path, (_req, res) => {
      res.writeHead(200, { etag: '"c1"', 'cache-control': 'max-age=60', 'content-type': 'text/plain' });
      res.end('cached body');
    });
    await f.proxy.get(path);
    const notModified = await f.proxy.get(path, { headers: { 'if-none-match': '"c1"' } });
    assert.equal(notModified.status, 304);
    assert.equal(notModified.body, '');
    assert.equal(notModified.headers.etag, '"c1"');
    assert.equal(notModified.headers['cache-control'], 'max-age=60');
    assert.equal(notModified.headers['content-type'], undefined);
    assert.match(cacheStatus(notModified), /; hit; detail=l1/);
    assert.equal(f.origin.count(path), 1);

    const weak = await f.proxy.get(path, { headers: { 'if-none-match': 'W/"other", W/"c1"' } });
    assert.equal(weak.status, 304);
    assert.equal(f.origin.count(path), 1);

    const mismatch = await f.proxy.get(path, { headers: { 'if-none-match': '"nope"' } });
    assert.equal(mismatch.status, 200);
    assert.equal(mismatch.body, 'cached body');
    assert.equal(f.origin.count(path), 1);
  });

  it('a client If-Modified-Since on a fresh stored object gets a 304 from the cache', async () => {
    const path = uniquePath('client-ims-hit');
    const lastModified = new Date(Date.now() - 3_600_000).toUTCString();
    f.origin.handle(path, (_req, res) => {
      res.writeHead(200, { 'last-modified': lastModified, 'cache-control': 'max-age=60' });
      res.end('ims body');
    });
    await f.proxy.get(path);
    const notModified = await f.proxy.get(path, { headers: { 'if-modified-since': new Date().toUTCString() } });
    assert.equal(notModified.status, 304);
    assert.equal(notModified.body, '');
    const modified = await f.proxy.get(path, { headers: { 'if-modified-since': new Date(Date.now() - 7_200_000).toUTCString() } });
    assert.equal(modified.status, 200);
    assert.equal(modified.body, 'ims body');
    assert.equal(f.origin.count(path), 1);
  });

  it('a client If-None-Match on a miss: the origin is asked unconditionally, the client gets a 304 and the object is stored', async () => {
    const path = uniquePath('client-inm-miss');
    f.origin.handle(path, (req, res) => {
      if (req.headers['if-none-match'] === '"m1"') {
        res.writeHead(304, { etag: '"m1"', 'cache-control': 'max-age=60' });
        return void res.end();
      }
      res.writeHead(200, { etag: '"m1"', 'cache-control': 'max-age=60' });
      res.end('whole object');
    });
    const first = await f.proxy.get(path, { headers: { 'if-none-match': '"m1"' } });
    assert.equal(first.status, 304);
    assert.equal(first.body, '');
    assert.equal(first.headers.etag, '"m1"');
    assert.match(cacheStatus(first), /; fwd=uri-miss; fwd-status=200; stored/);
    assert.equal(f.origin.count(path), 1);
    assert.equal(f.origin.requests.at(-1)!.headers['if-none-match'], undefined);

    const second = await f.proxy.get(path);
    assert.equal(second.status, 200);
    assert.equal(second.body, 'whole object');
    assert.match(cacheStatus(second), /; hit/);
    assert.equal(f.origin.count(path), 1);
  });
});
