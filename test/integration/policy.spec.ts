// The operator policy file (TIERCEL_CONFIG) over real sockets: the README's example exactly as
// written, each rule action, served hosts, reload, explain.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { send, sleep } from '../support/client';
import { cacheStatus } from '../support/fixture';
import { startOrigin, TestOrigin } from '../support/origin';
import { runTiercel, spawnTiercel, TiercelProcess } from '../support/process';
import { reverseProxy, TestProxy } from '../support/tiercel';

/** The example from the issue and the README, byte for byte. */
export const EXAMPLE = `hosts: [www.example.com, api.example.com]
rules:
  - name: static
    match: { path: "/static/*" }
    ttl: 1d
  - name: session
    match: { host: api.example.com, path: "/v1/session*" }
    pass: true
  - name: catalog
    match: { path: "/products/*" }
    ttl: 5m
    override: true
    grace: 1h
    status_ttl: { "404": 30s }
    key:
      query: { ignore: ["utm_*", "fbclid"], sort: true }
      cookies: [currency]
`;

const dir = mkdtempSync(join(tmpdir(), 'tiercel-policy-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;
function policyFile(text: string): string {
  const p = join(dir, `policy-${++files}.yaml`);
  writeFileSync(p, text);
  return p;
}

const www = { host: 'www.example.com' };
const api = { host: 'api.example.com' };

describe('the example policy, with an origin that sends no Cache-Control at all', () => {
  let origin: TestOrigin;
  let proxy: TestProxy;
  before(async () => {
    origin = await startOrigin((req, res) => {
      const path = (req.url ?? '').split('?')[0]!;
      if (path === '/products/9') return void res.writeHead(404, { 'content-type': 'text/plain' }).end('no such product');
      // Age: the object arrives already past the catalog rule's 5m, so its grace can be tried now.
      const headers: Record<string, string> = { 'content-type': 'text/plain' };
      if (path === '/products/old') headers.age = '301';
      res.writeHead(200, headers).end(`${req.url} for ${req.headers.cookie ?? 'nobody'}`);
    });
    proxy = await reverseProxy(origin.url, { TIERCEL_CONFIG: policyFile(EXAMPLE) });
  });
  after(async () => {
    await proxy.close();
    await origin.close();
  });

  it('/static/app.js is a hit for a day', async () => {
    const first = await proxy.get('/static/app.js', { headers: www });
    assert.equal(first.status, 200);
    assert.match(cacheStatus(first), /fwd=uri-miss; fwd-status=200; stored; ttl=86400/);
    const second = await proxy.get('/static/app.js', { headers: www });
    assert.match(cacheStatus(second), /hit; detail=l1; ttl=8639\d/);
    assert.equal(origin.count('/static/app.js'), 1);
  });

  it('/v1/session on api.example.com always reaches the origin', async () => {
    for (let i = 0; i < 3; i++) {
      const r = await proxy.get('/v1/session', { headers: api });
      assert.equal(r.status, 200);
      assert.match(cacheStatus(r), /fwd=bypass; fwd-status=200; detail=rule/);
    }
    assert.equal(origin.count('/v1/session'), 3);
  });

  it('query order and ignored parameters share one object; the currency cookie makes another', async () => {
    const a = await proxy.get('/products/1?utm_source=x&b=2&a=1', { headers: www });
    assert.match(cacheStatus(a), /stored; ttl=300/);
    const b = await proxy.get('/products/1?a=1&b=2', { headers: www });
    assert.match(cacheStatus(b), /hit/);
    assert.equal(b.body, a.body);
    const c = await proxy.get('/products/1?fbclid=1&b=2&a=1&utm_medium=y', { headers: www });
    assert.match(cacheStatus(c), /hit/);
    assert.equal(origin.requests.filter((r) => r.url.startsWith('/products/1?')).length, 1);
    const eur = await proxy.get('/products/1?a=1&b=2', { headers: { ...www, cookie: 'currency=EUR; theme=dark' } });
    assert.match(cacheStatus(eur), /fwd=vary-miss|fwd=uri-miss/);
    const eur2 = await proxy.get('/products/1?b=2&a=1', { headers: { ...www, cookie: 'theme=light; currency=EUR' } });
    assert.match(cacheStatus(eur2), /hit/);
    assert.equal(eur2.body, eur.body);
    assert.equal(origin.requests.filter((r) => r.url.startsWith('/products/1?')).length, 2);
  });

  it('a 404 on /products/9 is cached for 30 s', async () => {
    const first = await proxy.get('/products/9', { headers: www });
    assert.equal(first.status, 404);
    assert.match(cacheStatus(first), /fwd-status=404; stored; ttl=30/);
    const second = await proxy.get('/products/9', { headers: www });
    assert.equal(second.status, 404);
    assert.match(cacheStatus(second), /hit; detail=l1; ttl=(30|29)/);
    assert.equal(origin.count('/products/9'), 1);
  });

  it('Host: other.example gets 421 and reaches neither the origin nor the cache', async () => {
    const before = origin.requests.length;
    const r = await proxy.get('/static/app.js', { headers: { host: 'other.example' } });
    assert.equal(r.status, 421);
    assert.match(cacheStatus(r), /detail=host-not-served/);
    assert.equal(origin.requests.length, before);
    const s = await proxy.stats();
    assert.equal(s.policy.rules.join(), 'static,session,catalog');
    assert.match(s.policy.hash, /^[0-9a-f]{64}$/);
  });

  it('/products/* keeps being served stale after the origin goes down (grace 1h)', async () => {
    const first = await proxy.get('/products/old', { headers: www });
    assert.equal(first.status, 200);
    assert.match(cacheStatus(first), /stored; ttl=-1/);
    await origin.close();
    for (let i = 0; i < 3; i++) {
      const r = await proxy.get('/products/old', { headers: www });
      assert.equal(r.status, 200);
      assert.equal(r.body, first.body);
      // Served stale while a background refresh tries the origin (stale-while-revalidate), or in
      // place of the failed fetch (stale-if-error, fwd=stale): both within the rule's grace.
      assert.match(cacheStatus(r), /hit; detail=l1; ttl=-\d|fwd=stale; .*detail=stale-if-error/);
      await sleep(30);
    }
    const s = await proxy.stats();
    assert.ok(s.backgroundRefreshErrors >= 1 || s.staleServed >= 1);
  });
});
