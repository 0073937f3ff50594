import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { cacheStatus, countMethod, uniquePath, useReverseProxy } from '../support/fixture';
import type { TestOrigin } from '../support/origin';

/** A GET route answering `<path> v1`, `v2`… with max-age=60. */
function cacheableGet(origin: TestOrigin, path: string): void {
  let n = 0;
  origin.handle(path, (req, res) => {
    if (req.method !== 'GET') return void res.writeHead(405).end();
    n++;
    res.writeHead(200, { 'cache-control': 'max-age=60' });
    res.end(`${path} v${n}`);
  });
}

describe('invalidation after unsafe methods (RFC 9111 §4.4)', () => {
  const f = useReverseProxy();

  /** Stores a path and checks the next request is a hit. */
  async function store(path: string, headers: Record<string, string> = {}): Promise<void> {
    await f.proxy.get(path, { headers });
    const hit = await f.proxy.get(path, { headers });
    assert.match(cacheStatus(hit), /; hit/, `${path} should be stored`);
  }

  for (const method of ['POST', 'PUT', 'DELETE']) {
    it(`a successful ${method} invalidates the stored URI`, async () => {
      const path = uniquePath(`unsafe-${method.toLowerCase()}`);
      let gets = 0;
      f.origin.handle(path, (req, res) => {
        if (req.method === method) {
          res.writeHead(method === 'DELETE' ? 204 : 200, { 'content-type': 'text/plain' });
          return void res.end(method === 'DELETE' ? undefined : `${method} done`);
        }
        gets++;
        res.writeHead(200, { 'cache-control': 'max-age=60' });
        res.end(`v${gets}`);
      });
      await store(path);
      const unsafe = await f.proxy.get(path, { method, body: method === 'DELETE' ? undefined : 'payload' });
      assert.equal(unsafe.status, method === 'DELETE' ? 204 : 200);
      assert.equal(unsafe.body, method === 'DELETE' ? '' : `${method} done`);
      assert.match(cacheStatus(unsafe), /; fwd=method; fwd-status=20[04]/);
      assert.equal(countMethod(f.origin, path, method), 1);
      if (method !== 'DELETE') assert.equal(f.origin.requests.at(-1)!.body, 'payload');

      const after = await f.proxy.get(path);
      assert.equal(after.status, 200);
      assert.equal(after.body, 'v2');
      assert.match(cacheStatus(after), /; fwd=uri-miss/);
      assert.equal(countMethod(f.origin, path, 'GET'), 2);
      const stats = await f.proxy.stats();
      assert.ok(stats.invalidations >= 1);
    });
  }

  it('a successful POST invalidates same-origin Location and Content-Location URIs', async () => {
    const post = uniquePath('unsafe-post-locations');
    const loc = uniquePath('location-target');
    const cloc = uniquePath('content-location-target');
    cacheableGet(f.origin, loc);
    cacheableGet(f.origin, cloc);
    await store(loc);
    await store(cloc);
    f.origin.handle(post, (req, res) => {
      // Location relative, Content-Location absolute with the host the client used.
      res.writeHead(201, { location: loc, 'content-location': `http://${req.headers.host}${cloc}` });
      res.end('created');
    });
    const created = await f.proxy.get(post, { method: 'POST', body: '{}' });
    assert.equal(created.status, 201);
    assert.equal(created.body, 'created');
    assert.equal(created.headers.location, loc);

    const a = await f.proxy.get(loc);
    assert.equal(a.body, `${loc} v2`);
    assert.match(cacheStatus(a), /fwd=uri-miss/);
    const b = await f.proxy.get(cloc);
    assert.equal(b.body, `${cloc} v2`);
    assert.match(cacheStatus(b), /fwd=uri-miss/);
    assert.equal(f.origin.count(loc), 2);
    assert.equal(f.origin.count(cloc), 2);
  });

  it('an unsafe request answered with a 4xx invalidates nothing', async () => {
    const path = uniquePath('unsafe-4xx');
    let gets = 0;
    f.origin.handle(path, (req, res) => {
      if (req.method === 'POST') {
        res.writeHead(403, { location: path });
        return void res.end('forbidden');
      }
      gets++;
      res.writeHead(200, { 'cache-control': 'max-age=60' });
      res.end(`v${gets}`);
    });
    await store(path);
    const denied = await f.proxy.get(path, { method: 'POST', body: 'x' });
    assert.equal(denied.status, 403);
    assert.equal(denied.body, 'forbidden');
    const after = await f.proxy.get(path);
    assert.equal(after.body, 'v1');
    assert.match(cacheStatus(after), /; hit/);
    assert.equal(countMethod(f.origin, path, 'GET'), 1);
  });

  it('a cross-origin Location does not invalidate another host\'s object', async () => {
    // In reverse mode the cache key carries the Host the client sent: store under another host.
    const victim = uniquePath('cross-origin-victim');
    cacheableGet(f.origin, victim);
    const otherHost = { host: 'other.example' };
    await store(victim, otherHost);
    const post = uniquePath('cross-origin-post');
    f.origin.handle(post, (_req, res) => {
      res.writeHead(200, { location: `http://other.example${victim}`, 'content-location': `http://other.example${victim}` });
      res.end('ok');
    });
    const r = await f.proxy.get(post, { method: 'POST', body: 'x' });
    assert.equal(r.status, 200);
    const after = await f.proxy.get(victim, { headers: otherHost });
    assert.equal(after.body, `${victim} v1`);
    assert.match(cacheStatus(after), /; hit/);
    assert.equal(f.origin.count(victim), 1);

    // Control: the same POST sent with Host other.example does invalidate it.
    const same = await f.proxy.get(post, { method: 'POST', body: 'x', headers: otherHost });
    assert.equal(same.status, 200);
    const gone = await f.proxy.get(victim, { headers: otherHost });
    assert.equal(gone.body, `${victim} v2`);
    assert.equal(f.origin.count(victim), 2);
  });

  it('invalidating a URI removes all its Vary variants', async () => {
    const path = uniquePath('unsafe-vary');
    const n: Record<string, number> = {};
    f.origin.handle(path, (req, res) => {
      if (req.method === 'PUT') return void res.writeHead(204).end();
      const lang = String(req.headers['accept-language']);
      n[lang] = (n[lang] ?? 0) + 1;
      res.writeHead(200, { 'cache-control': 'max-age=60', vary: 'accept-language' });
      res.end(`${lang} v${n[lang]}`);
    });
    await store(path, { 'accept-language': 'en' });
    await store(path, { 'accept-language': 'de' });
    await f.proxy.get(path, { method: 'PUT', body: 'x' });
    const en = await f.proxy.get(path, { headers: { 'accept-language': 'en' } });
    const de = await f.proxy.get(path, { headers: { 'accept-language': 'de' } });
    assert.equal(en.body, 'en v2');
    assert.equal(de.body, 'de v2');
  });
});
