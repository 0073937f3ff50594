import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { cacheStatus, uniquePath, useReverseProxy } from '../support/fixture';
import { startOrigin, TestOrigin } from '../support/origin';
import { reverseProxy, TestProxy } from '../support/tiercel';

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

describe('which instruction governed: Cache-Status and /admin/explain name it; a rule with override wins over targeted fields, a plain rule ttl does not', () => {
  const POLICY = `rules:
  - name: forced
    match: { path: "/forced/*" }
    ttl: 7s
    override: true
  - name: fallback
    match: { path: "/fallback/*" }
    ttl: 90s
`;
  // Every path gets all three fields unless it names its own: the own field says 30 s, CDN 120 s, Cache-Control 600 s.
  const ALL = { 'cache-control': 'max-age=600', 'cdn-cache-control': 'max-age=120', 'tiercel-cache-control': 'max-age=30' };
  const fieldsFor: Record<string, Record<string, string>> = {
    '/plain/own': ALL,
    '/plain/cdn': { 'cache-control': 'no-store', 'cdn-cache-control': 'max-age=120, stale-if-error=60' },
    '/plain/cc': { 'cache-control': 'max-age=600' },
    '/forced/own': ALL,
    '/fallback/own': ALL,
    '/fallback/bare': { 'cache-control': 'max-age=600', 'cdn-cache-control': 'public' },
  };
  const host = { host: 'www.example.com' };
  let dir: string;
  let origin: TestOrigin;
  let proxy: TestProxy;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tiercel-targeted-'));
    writeFileSync(join(dir, 'policy.yaml'), POLICY);
    origin = await startOrigin((req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain', ...fieldsFor[req.url ?? ''] }).end(req.url);
    });
    proxy = await reverseProxy(origin.url, { TIERCEL_CONFIG: join(dir, 'policy.yaml') });
  });
  after(async () => {
    await proxy?.close();
    await origin?.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const explain = async (path: string) => {
    const r = await proxy.admin(`/admin/explain?${new URLSearchParams({ url: `http://www.example.com${path}` })}`);
    assert.equal(r.status, 200, r.body);
    const body = JSON.parse(r.body);
    assert.equal(body.verdict.serve, 'hit', r.body);
    return body.tiers[0].selected;
  };
  /** A miss then a hit; returns the miss's Cache-Status and what explain says of the stored object. */
  const storeAndExplain = async (path: string) => {
    const miss = await proxy.get(path, { headers: host });
    const hit = await proxy.get(path, { headers: host });
    assert.match(cacheStatus(hit), /; hit;/, path);
    assert.equal(origin.count(path), 1, path);
    return { status: cacheStatus(miss), stored: await explain(path) };
  };

  it('Tiercel-Cache-Control governs over CDN-Cache-Control and Cache-Control, and explain shows it with its value', async () => {
    const { status, stored } = await storeAndExplain('/plain/own');
    assert.match(status, /; stored; ttl=30; detail=tiercel-cache-control$/);
    assert.deepEqual(stored.freshnessFrom, { field: 'tiercel-cache-control', value: 'max-age=30', source: 'max-age', lifetimeSeconds: 30 });
    assert.equal(stored.freshnessSeconds, 30);
  });

  it('CDN-Cache-Control governs over a Cache-Control no-store', async () => {
    const { status, stored } = await storeAndExplain('/plain/cdn');
    assert.match(status, /; stored; ttl=120; detail=cdn-cache-control$/);
    assert.deepEqual(stored.freshnessFrom, { field: 'cdn-cache-control', value: 'max-age=120, stale-if-error=60', source: 'max-age', lifetimeSeconds: 120 });
    assert.equal(stored.staleIfErrorSeconds, 60);
  });

  it('plain Cache-Control: no detail in Cache-Status, explain names cache-control', async () => {
    const { status, stored } = await storeAndExplain('/plain/cc');
    assert.match(status, /; stored; ttl=600$/);
    assert.deepEqual(stored.freshnessFrom, { field: 'cache-control', value: 'max-age=600', source: 'max-age', lifetimeSeconds: 600 });
  });

  it('a rule with override: true wins over every targeted field', async () => {
    const { status, stored } = await storeAndExplain('/forced/own');
    assert.match(status, /; stored; ttl=7; detail=rule$/);
    assert.deepEqual(stored.freshnessFrom, { field: 'rule', value: null, source: 'rule', lifetimeSeconds: 7, rule: 'forced' });
    assert.equal(stored.freshnessSeconds, 7);
  });

  it("a rule's ttl without override loses to a targeted field, and fills in only when the targeted field gives no freshness", async () => {
    const own = await storeAndExplain('/fallback/own');
    assert.match(own.status, /; stored; ttl=30; detail=tiercel-cache-control$/);
    assert.equal(own.stored.freshnessFrom.field, 'tiercel-cache-control');
    // CDN-Cache-Control: public governs (Cache-Control's max-age=600 is ignored, RFC 9213 §2.1), so the rule's 90 s applies.
    const bare = await storeAndExplain('/fallback/bare');
    assert.match(bare.status, /; stored; ttl=90; detail=rule$/);
    assert.deepEqual(bare.stored.freshnessFrom, { field: 'rule', value: null, source: 'rule', lifetimeSeconds: 90, rule: 'fallback' });
  });
});
