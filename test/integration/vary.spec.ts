import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { cacheStatus, uniquePath, useReverseProxy } from '../support/fixture';

describe('Vary (RFC 9111 §4.1)', () => {
  const f = useReverseProxy();

  it('stores one variant per value of the varying header', async () => {
    const path = uniquePath('vary-lang');
    f.origin.handle(path, (req, res) => {
      res.writeHead(200, { 'cache-control': 'max-age=60', vary: 'Accept-Language', 'content-language': String(req.headers['accept-language']) });
      res.end(`hello in ${req.headers['accept-language']}`);
    });
    const en1 = await f.proxy.get(path, { headers: { 'accept-language': 'en' } });
    assert.equal(en1.status, 200);
    assert.equal(en1.body, 'hello in en');
    assert.match(cacheStatus(en1), /; fwd=uri-miss; fwd-status=200; stored/);

    const fr1 = await f.proxy.get(path, { headers: { 'accept-language': 'fr' } });
    assert.equal(fr1.body, 'hello in fr');
    assert.match(cacheStatus(fr1), /; fwd=vary-miss; fwd-status=200; stored/);
    assert.equal(f.origin.count(path), 2);

    const en2 = await f.proxy.get(path, { headers: { 'accept-language': 'en' } });
    assert.equal(en2.status, 200);
    assert.equal(en2.body, 'hello in en');
    assert.equal(en2.headers['content-language'], 'en');
    assert.equal(en2.headers.vary, 'Accept-Language');
    assert.match(cacheStatus(en2), /; hit; detail=l1/);

    const fr2 = await f.proxy.get(path, { headers: { 'accept-language': 'fr' } });
    assert.equal(fr2.body, 'hello in fr');
    assert.match(cacheStatus(fr2), /; hit; detail=l1/);
    assert.equal(f.origin.count(path), 2);

    // A request without the header is a third variant, not one of the two stored.
    const none = await f.proxy.get(path);
    assert.equal(none.body, 'hello in undefined');
    assert.match(cacheStatus(none), /fwd=vary-miss/);
    assert.equal(f.origin.count(path), 3);
  });

  it('Vary: * is never stored', async () => {
    const path = uniquePath('vary-star');
    f.origin.handle(path, (_req, res) => {
      res.writeHead(200, { 'cache-control': 'max-age=60', vary: '*' });
      res.end('unique');
    });
    const first = await f.proxy.get(path);
    assert.equal(first.status, 200);
    assert.equal(first.body, 'unique');
    assert.equal(first.headers.vary, '*');
    assert.match(cacheStatus(first), /detail=vary-star$/);
    const second = await f.proxy.get(path);
    assert.equal(second.body, 'unique');
    assert.doesNotMatch(cacheStatus(second), /; hit/);
    assert.equal(f.origin.count(path), 2);
  });

  it('Accept-Encoding is normalised: equivalent preferences share one variant, and the origin sees the normalised value', async () => {
    const path = uniquePath('vary-ae');
    f.origin.handle(path, (req, res) => {
      res.writeHead(200, { 'cache-control': 'max-age=60', vary: 'Accept-Encoding', 'x-origin-saw': String(req.headers['accept-encoding']) });
      res.end(`encoded for ${req.headers['accept-encoding']}`);
    });
    const a = await f.proxy.get(path, { headers: { 'accept-encoding': 'gzip, deflate, br' } });
    assert.equal(a.status, 200);
    assert.equal(a.body, 'encoded for br');
    assert.match(cacheStatus(a), /; stored/);
    assert.equal(f.origin.requests.at(-1)!.headers['accept-encoding'], 'br');

    const b = await f.proxy.get(path, { headers: { 'accept-encoding': 'br;q=1, gzip' } });
    assert.equal(b.status, 200);
    assert.equal(b.body, 'encoded for br');
    assert.match(cacheStatus(b), /; hit; detail=l1/);
    assert.equal(f.origin.count(path), 1);

    const gz = await f.proxy.get(path, { headers: { 'accept-encoding': 'gzip, deflate' } });
    assert.equal(gz.body, 'encoded for gzip');
    assert.match(cacheStatus(gz), /fwd=vary-miss/);
    assert.equal(f.origin.requests.at(-1)!.headers['accept-encoding'], 'gzip');
    assert.equal(f.origin.count(path), 2);

    const gz2 = await f.proxy.get(path, { headers: { 'accept-encoding': 'x-gzip, br;q=0' } });
    assert.equal(gz2.body, 'encoded for gzip');
    assert.match(cacheStatus(gz2), /; hit/);
    assert.equal(f.origin.count(path), 2);
  });

  it('Accept-Encoding absent and identity are one variant, and no Accept-Encoding goes upstream', async () => {
    const path = uniquePath('vary-ae-identity');
    f.origin.handle(path, (req, res) => {
      res.writeHead(200, { 'cache-control': 'max-age=60', vary: 'accept-encoding' });
      res.end(`plain ${req.headers['accept-encoding'] ?? 'none'}`);
    });
    const a = await f.proxy.get(path);
    assert.equal(a.body, 'plain none');
    const b = await f.proxy.get(path, { headers: { 'accept-encoding': 'identity' } });
    assert.equal(b.body, 'plain none');
    assert.match(cacheStatus(b), /; hit/);
    assert.equal(f.origin.count(path), 1);
  });

  it('a response that changes its Vary replaces the old variants', async () => {
    const path = uniquePath('vary-change');
    let n = 0;
    f.origin.handle(path, (req, res) => {
      n++;
      const headers: Record<string, string> = { 'cache-control': n === 1 ? 'max-age=0' : 'max-age=60' };
      if (n === 1) headers.vary = 'x-a';
      res.writeHead(200, { ...headers, etag: `"v${n}"` });
      res.end(`v${n} ${req.headers['x-a'] ?? ''}`);
    });
    await f.proxy.get(path, { headers: { 'x-a': '1' } });
    const second = await f.proxy.get(path, { headers: { 'x-a': '1' } });
    assert.equal(second.body, 'v2 1');
    const third = await f.proxy.get(path, { headers: { 'x-a': '2' } });
    assert.equal(third.body, 'v2 1');
    assert.match(cacheStatus(third), /; hit/);
    assert.equal(f.origin.count(path), 2);
  });
});
