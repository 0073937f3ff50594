import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { cacheStatus, uniquePath, useReverseProxy } from '../support/fixture';

describe('POST responses naming their target (RFC 9110 §9.3.3)', () => {
  const f = useReverseProxy();

  const post = (path: string) => f.proxy.get(path, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: '12345' });

  function origin(path: string, fields: (n: number) => Record<string, string>) {
    let n = 0;
    f.origin.handle(path, (req, res) => {
      n++;
      res.writeHead(200, req.method === 'POST' ? fields(n) : { 'cache-control': 'max-age=60' });
      res.end(`${req.method} ${n}`);
    });
  }

  it('with explicit freshness and Content-Location equal to the target, a later GET is served from it', async () => {
    const path = uniquePath('post-cl');
    origin(path, () => ({ 'cache-control': 'max-age=3600', 'content-location': path }));
    const p = await post(path);
    assert.equal(p.body, 'POST 1');
    assert.match(cacheStatus(p), /; fwd=method; fwd-status=200; stored/);
    const g = await f.proxy.get(path);
    assert.equal(g.body, 'POST 1');
    assert.match(cacheStatus(g), /; hit;/);
    assert.equal(f.origin.count(path), 1);
  });

  for (const [what, fields] of [
    ['no Content-Location', { 'cache-control': 'max-age=3600' }],
    ['another Content-Location', { 'cache-control': 'max-age=3600', 'content-location': '/elsewhere' }],
    ['an absolute Content-Location', { 'cache-control': 'max-age=3600', 'content-location': 'http://evil.example/x' }],
    ['no explicit freshness', { 'last-modified': new Date(Date.now() - 86400_000).toUTCString(), 'content-location': '@' }],
  ] as const) {
    it(`with ${what}, nothing is stored`, async () => {
      const path = uniquePath('post-no');
      origin(path, () => Object.fromEntries(Object.entries(fields).map(([k, v]) => [k, v === '@' ? path : v])));
      await post(path);
      const g = await f.proxy.get(path);
      assert.equal(g.body, 'GET 2');
      assert.equal(f.origin.count(path), 2);
    });
  }
});
