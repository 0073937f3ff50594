// The operator policy file (TIERCEL_CONFIG) over real sockets: the README's example exactly as
// written, each rule action, served hosts, reload, explain.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { send, sleep } from '../support/client';
import { cacheStatus } from '../support/fixture';
import { startOrigin, TestOrigin } from '../support/origin';
import { runTiercel, spawnTiercel, TiercelProcess } from '../support/process';
import { reverseProxy, TestProxy } from '../support/tiercel';
import { RedisProcess, startRedis } from '../support/redis';

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

  it('is the example the README documents', () => {
    assert.ok(readFileSync(join(__dirname, '../../../README.md'), 'utf8').includes('```yaml\n' + EXAMPLE + '```'));
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
    assert.match(cacheStatus(second), /hit; detail=l1; ttl=(30|2\d)/);
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
    // The first stale request is served at once while a background refresh tries the origin
    // (stale-while-revalidate within the grace); once that refresh has failed, the stale object
    // says it stands in for the origin's failure (stale-if-error within the grace: fwd=stale).
    const statuses: string[] = [];
    for (let i = 0; i < 20 && !statuses.some((s) => s.includes('fwd=stale')); i++) {
      const r = await proxy.get('/products/old', { headers: www });
      assert.equal(r.status, 200);
      assert.equal(r.body, first.body);
      statuses.push(cacheStatus(r));
      await sleep(25);
    }
    assert.match(statuses[0]!, /^tiercel; hit; detail=l1; ttl=-\d+$/);
    assert.match(statuses.at(-1)!, /^tiercel; fwd=stale; ttl=-\d+; detail=stale-if-error-connect-error$/);
    for (let i = 0; i < 3; i++) assert.match(cacheStatus(await proxy.get('/products/old', { headers: www })), /fwd=stale; .*detail=stale-if-error-/);
  });
});

const ACTIONS = `rules:
  - name: norm
    match: { path: "/norm/*" }
    ttl: 60
  - name: drop
    match: { path: "/drop/*" }
    ttl: 60
    key: { query: { drop: true }, headers: [X-Tenant] }
  - name: cookies
    match: { path: "/cookies/*" }
    ttl: 60
    strip_cookies: true
    strip_set_cookie: true
  - name: small
    match: { path: "/small/*" }
    ttl: 60
    max_object_size: 100
  - name: respect
    match: { path: "/respect/*" }
    ttl: 60
  - match: { path: "/override/*" }
    ttl: 60
    override: true
    grace: 10s
`;
const TOKEN = 'policy-test-token';
const auth = { authorization: `Bearer ${TOKEN}` };

describe('rule actions', () => {
  let origin: TestOrigin;
  let proxy: TestProxy;
  before(async () => {
    origin = await startOrigin((req, res) => {
      const path = (req.url ?? '').split('?')[0]!;
      const headers: Record<string, string> = { 'content-type': 'text/plain' };
      if (path.startsWith('/cookies/')) headers['set-cookie'] = 'session=secret';
      if (path.startsWith('/respect/no-store') || path.startsWith('/override/')) headers['cache-control'] = 'no-store, private';
      if (path === '/respect/max-age') headers['cache-control'] = 'max-age=10';
      if (path === '/small/announced') headers['content-length'] = '200';
      const body = path.startsWith('/small/') ? 'x'.repeat(200) : `${req.url} tenant=${req.headers['x-tenant'] ?? ''} cookie=${req.headers.cookie ?? ''}`;
      res.writeHead(200, headers).end(body);
    });
    proxy = await reverseProxy(origin.url, { TIERCEL_CONFIG: policyFile(ACTIONS), ADMIN_TOKEN: TOKEN });
  });
  after(async () => {
    await proxy.close();
    await origin.close();
  });

  it('percent-encoded unreserved characters share the object, and invalidation by URL normalises the same way', async () => {
    assert.match(cacheStatus(await proxy.get('/norm/%6b')), /stored; ttl=60/);
    assert.match(cacheStatus(await proxy.get('/norm/k')), /hit/);
    const inv = await proxy.admin('/admin/invalidate', { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify({ urls: [`http://127.0.0.1:${proxy.port}/norm/%6B`] }) });
    assert.equal(inv.status, 200);
    assert.equal(JSON.parse(inv.body).removed.l1, 1);
    assert.match(cacheStatus(await proxy.get('/norm/k')), /fwd=uri-miss/);
    assert.equal(origin.requests.filter((r) => r.url === '/norm/%6b' || r.url === '/norm/k').length, 2);
  });

  it('query dropped from the key; a request header added to it', async () => {
    const a = await proxy.get('/drop/x?a=1', { headers: { 'x-tenant': 'one' } });
    assert.match(cacheStatus(a), /stored/);
    assert.match(cacheStatus(await proxy.get('/drop/x?b=2', { headers: { 'x-tenant': 'one' } })), /hit/);
    const other = await proxy.get('/drop/x?a=1', { headers: { 'x-tenant': 'two' } });
    assert.match(cacheStatus(other), /fwd=vary-miss/);
    assert.match(other.body, /tenant=two/);
  });

  it('strip_cookies keeps Cookie from the origin; strip_set_cookie stores without Set-Cookie', async () => {
    const first = await proxy.get('/cookies/x', { headers: { cookie: 'session=abc' } });
    assert.match(first.body, /cookie=$/);
    assert.match(cacheStatus(first), /stored/);
    const second = await proxy.get('/cookies/x');
    assert.match(cacheStatus(second), /hit/);
    assert.equal(second.headers['set-cookie'], undefined);
  });

  it('max_object_size: a larger body streams through and is not stored', async () => {
    const announced = await proxy.get('/small/announced');
    assert.equal(announced.body.length, 200);
    assert.match(cacheStatus(announced), /detail=too-large/);
    // A chunked body is found too large only as it arrives: delivered whole, never stored.
    const chunked = await proxy.get('/small/chunked');
    assert.equal(chunked.body.length, 200);
    await proxy.get('/small/chunked');
    assert.equal(origin.count('/small/chunked'), 2);
  });

  it("without override the origin's no-store and freshness win; override replaces them", async () => {
    assert.match(cacheStatus(await proxy.get('/respect/no-store')), /detail=no-store/);
    assert.match(cacheStatus(await proxy.get('/respect/max-age')), /stored; ttl=10/);
    assert.match(cacheStatus(await proxy.get('/respect/none')), /stored; ttl=60/);
    assert.match(cacheStatus(await proxy.get('/override/x')), /stored; ttl=60/);
    assert.match(cacheStatus(await proxy.get('/override/x')), /hit/);
    assert.equal(origin.count('/override/x'), 1);
  });

});

describe('explain', () => {
  let origin: TestOrigin;
  let proxy: TestProxy;
  before(async () => {
    origin = await startOrigin((req, res) => {
      if (req.url === '/products/uncacheable') return void res.writeHead(200, { 'cache-control': 'private', 'content-type': 'text/plain' }).end('mine');
      res.writeHead(200, { 'content-type': 'text/plain', etag: '"v1"' }).end('product');
    });
    proxy = await reverseProxy(origin.url, { TIERCEL_CONFIG: policyFile(EXAMPLE.replace('override: true', 'override: false')) });
  });
  after(async () => {
    await proxy.close();
    await origin.close();
  });
  const explain = async (url: string, ...headers: string[]) => {
    const q = new URLSearchParams({ url });
    for (const h of headers) q.append('header', h);
    const r = await proxy.admin(`/admin/explain?${q}`);
    assert.equal(r.status, 200, r.body);
    return JSON.parse(r.body);
  };

  it('a miss, then a hit with the rule, the key and what L1 holds', async () => {
    const miss = await explain('http://www.example.com/products/1?utm_source=x&b=2&a=1', 'cookie: currency=EUR');
    assert.equal(miss.rule.name, 'catalog');
    assert.equal(miss.key.primary, 'www.example.com/products/1?a=1&b=2');
    assert.deepEqual(miss.key.variantFields, ['~cookie.currency']);
    assert.equal(miss.verdict.serve, 'miss');
    await proxy.get('/products/1?a=1&b=2', { headers: { host: 'www.example.com', cookie: 'currency=EUR' } });
    const hit = await explain('http://www.example.com/products/1?b=2&a=1', 'cookie: currency=EUR');
    assert.equal(hit.verdict.serve, 'hit');
    assert.equal(hit.tiers[0].tier, 'l1');
    assert.deepEqual(hit.tiers[0].vary, ['~cookie.currency']);
    assert.equal(hit.tiers[0].variants, 1);
    assert.equal(hit.tiers[0].selected.validators.etag, '"v1"');
    assert.ok(hit.tiers[0].selected.ttlSeconds > 240 && hit.tiers[0].selected.ttlSeconds <= 300, String(hit.tiers[0].selected.ttlSeconds));
    const otherCurrency = await explain('http://www.example.com/products/1?b=2&a=1', 'cookie: currency=USD');
    assert.equal(otherCurrency.verdict.serve, 'miss');
  });

  it('a pass, an uncacheable response, a host that is not served', async () => {
    const pass = await explain('http://api.example.com/v1/session');
    assert.equal(pass.verdict.serve, 'pass');
    assert.equal(pass.rule.name, 'session');
    await proxy.get('/products/uncacheable', { headers: { host: 'www.example.com' } });
    const unc = await explain('http://www.example.com/products/uncacheable');
    assert.equal(unc.verdict.serve, 'miss');
    assert.equal(unc.verdict.storable, 'no: private');
    const other = await explain('http://other.example/x');
    assert.equal(other.verdict.serve, 'misdirected');
  });
});

describe('explain with L2', () => {
  let origin: TestOrigin;
  let redis: RedisProcess;
  let proxy: TestProxy;
  before(async () => {
    redis = await startRedis();
    origin = await startOrigin((req, res) => {
      const lang = String(req.headers['accept-language'] ?? 'en');
      res.writeHead(200, { 'content-type': 'text/plain', 'cache-control': 'max-age=300', vary: 'accept-language', etag: `"${lang}"` }).end(`in ${lang}`);
    });
    proxy = await reverseProxy(origin.url, { TIERCEL_CONFIG: policyFile(EXAMPLE), REDIS_ENABLED: 'true', REDIS_ADDR: redis.addr });
  });
  after(async () => {
    await proxy.close();
    await origin.close();
    await redis.stop();
  });

  it('lists every variant each tier holds, with its age, remaining life and validators', async () => {
    for (const lang of ['en', 'fr']) await proxy.get('/static/app.js', { headers: { host: 'www.example.com', 'accept-language': lang } });
    const q = new URLSearchParams({ url: 'http://www.example.com/static/app.js' });
    q.append('header', 'accept-language: fr');
    let e: { tiers: { tier: string; variants: number; stored: { selector: string; ttlSeconds: number; ageSeconds: number; validators: { etag: string } }[] }[] } | undefined;
    // The L2 write follows the response: look until both variants are there.
    for (let i = 0; i < 50; i++) {
      const r = await proxy.admin(`/admin/explain?${q}`);
      assert.equal(r.status, 200, r.body);
      e = JSON.parse(r.body);
      if (e!.tiers.find((t) => t.tier === 'l2')?.variants === 2) break;
      await sleep(20);
    }
    assert.deepEqual(e!.tiers.map((t) => t.tier), ['l1', 'l2']);
    for (const t of e!.tiers) {
      assert.equal(t.variants, 2, `${t.tier}: ${JSON.stringify(t)}`);
      assert.deepEqual(t.stored.map((v) => v.validators.etag).sort(), ['"en"', '"fr"'], t.tier);
      for (const v of t.stored) {
        assert.ok(v.ttlSeconds > 290 && v.ttlSeconds <= 300, `${t.tier} ${v.selector}: ttl ${v.ttlSeconds}`);
        assert.ok(v.ageSeconds >= 0 && v.ageSeconds < 10, `${t.tier} ${v.selector}: age ${v.ageSeconds}`);
      }
    }
  });
});

describe('reload', () => {
  let origin: TestOrigin;
  let proxy: TestProxy;
  let file: string;
  before(async () => {
    origin = await startOrigin((_req, res) => void res.writeHead(200, { 'content-type': 'text/plain' }).end('x'));
    file = policyFile('rules:\n  - name: a\n    match: { path: "/r/*" }\n    ttl: 60\n');
    proxy = await reverseProxy(origin.url, { TIERCEL_CONFIG: file, ADMIN_TOKEN: TOKEN });
  });
  after(async () => {
    await proxy.close();
    await origin.close();
  });

  it('POST /admin/reload needs the token, applies a good file and refuses a bad one, keeping the old policy', async () => {
    assert.equal((await proxy.admin('/admin/reload', { method: 'POST' })).status, 401);
    assert.match(cacheStatus(await proxy.get('/r/1')), /ttl=60/);
    const hash0 = (await proxy.stats()).policy.hash;
    writeFileSync(file, 'rules:\n  - name: b\n    match: { path: "/r/*" }\n    ttl: 120\n');
    const ok = await proxy.admin('/admin/reload', { method: 'POST', headers: auth });
    assert.equal(ok.status, 200, ok.body);
    assert.match(cacheStatus(await proxy.get('/r/2')), /ttl=120/);
    const s = await proxy.stats();
    assert.notEqual(s.policy.hash, hash0);
    assert.deepEqual(s.policy.rules, ['b']);
    writeFileSync(file, 'rules:\n  - name: c\n    match: { path: "/r/*" }\n    tll: 5\n');
    const bad = await proxy.admin('/admin/reload', { method: 'POST', headers: auth });
    assert.equal(bad.status, 422);
    assert.equal(JSON.parse(bad.body).message, `${file}:4:5: rules[0].tll: unknown key; accepted: name, match, ttl, override, status_ttl, grace, pass, key, strip_cookies, strip_set_cookie, max_object_size`);
    assert.match(cacheStatus(await proxy.get('/r/3')), /ttl=120/);
    assert.deepEqual((await proxy.stats()).policy.rules, ['b']);
  });
});

describe('the policy file and the process', () => {
  let origin: TestOrigin;
  before(async () => {
    origin = await startOrigin((_req, res) => void res.writeHead(200, { 'content-type': 'text/plain' }).end('x'));
  });
  after(() => origin.close());

  it('a bad file stops start-up with one line naming file, line, column and key', async () => {
    const file = policyFile('hosts: [a.example]\nrules:\n  - match: { path: "/x", methd: GET }\n');
    const r = await runTiercel({ UPSTREAM_URL: origin.url, TIERCEL_CONFIG: file });
    assert.equal(r.code, 1);
    assert.equal(r.stderr, `tiercel: ${file}:3:26: rules[0].match.methd: unknown key; accepted: host, path, method, header\n`);
  });

  it("the environment overrides the file's settings", async () => {
    const file = policyFile('cache_name: fromfile\n');
    const fromFile = await reverseProxy(origin.url, { TIERCEL_CONFIG: file });
    const fromEnv = await reverseProxy(origin.url, { TIERCEL_CONFIG: file, CACHE_NAME: 'fromenv' });
    try {
      assert.match(cacheStatus(await fromFile.get('/s')), /^fromfile; /);
      assert.match(cacheStatus(await fromEnv.get('/s')), /^fromenv; /);
    } finally {
      await fromFile.close();
      await fromEnv.close();
    }
  });

  it('SIGHUP reloads the file; a bad file is refused with the same one line and the old policy stays', async () => {
    const file = policyFile('rules:\n  - name: first\n    match: { path: "/named" }\n    ttl: 60\n  - ttl: 60\n');
    let t: TiercelProcess | undefined;
    try {
      t = await spawnTiercel({ UPSTREAM_URL: origin.url, TIERCEL_CONFIG: file });
      const rules = async () => JSON.parse((await send(t!.adminPort, '/stats')).body).policy.rules;
      assert.deepEqual(await rules(), ['first', '#2']);
      for (const path of ['/named', '/named', '/other', '/other']) await send(t.proxyPort, path);
      const metrics = (await send(t.adminPort, '/metrics')).body;
      assert.match(metrics, /^tiercel_rule_requests_total\{rule="first",outcome="hit"[^}]*\} 1$/m);
      assert.match(metrics, /^tiercel_rule_requests_total\{rule="#2",outcome="miss"[^}]*\} 1$/m);
      assert.match(metrics, /^tiercel_policy_info\{hash="[0-9a-f]{64}"[^}]*\} 1$/m);
      assert.match(metrics, /^tiercel_policy_loaded_timestamp_seconds(\{[^}]*\})? [1-9]/m);
      writeFileSync(file, 'rules:\n  - name: second\n    ttl: 60\n');
      t.child.kill('SIGHUP');
      for (let i = 0; i < 50 && (await rules())[0] !== 'second'; i++) await sleep(20);
      assert.deepEqual(await rules(), ['second']);
      writeFileSync(file, 'rules:\n  - name: third\n    ttl: later\n');
      t.child.kill('SIGHUP');
      for (let i = 0; i < 50 && !t.stdout().includes('reload refused'); i++) await sleep(20);
      assert.match(t.stdout(), new RegExp(`policy reload refused: ${file.replace(/[.]/g, '\\.')}:3:10: rules\\[0\\]\\.ttl: expected a duration`));
      assert.deepEqual(await rules(), ['second']);
      assert.match((await send(t.adminPort, '/metrics')).body, /^tiercel_policy_reloads_total\{result="refused"[^}]*\} 1$/m);
      assert.equal(t.child.exitCode, null);
    } finally {
      t?.child.kill('SIGTERM');
      await t?.exited;
    }
  });
});

describe('CACHE_MAX_AGE', () => {
  let origin: TestOrigin;
  before(async () => {
    origin = await startOrigin((req, res) => {
      if (req.headers['if-none-match'] === '"v1"') return void res.writeHead(304, { etag: '"v1"', 'cache-control': 'max-age=600' }).end();
      res.writeHead(200, { etag: '"v1"', 'cache-control': 'max-age=600', 'content-type': 'text/plain' }).end('body');
    });
  });
  after(() => origin.close());

  it("no cap by default: the origin's 600 s are honoured", async () => {
    const proxy = await reverseProxy(origin.url);
    try {
      assert.match(cacheStatus(await proxy.get('/uncapped')), /stored; ttl=600/);
      assert.match(cacheStatus(await proxy.get('/uncapped')), /hit; detail=l1; ttl=(600|59\d)/);
    } finally {
      await proxy.close();
    }
  });

  it('set: the object turns stale at the cap and is revalidated with its validators, and ttl says so', async () => {
    const proxy = await reverseProxy(origin.url, { CACHE_MAX_AGE: '2s' });
    try {
      assert.match(cacheStatus(await proxy.get('/capped')), /stored; ttl=2/);
      assert.match(cacheStatus(await proxy.get('/capped')), /hit; detail=l1; ttl=(1|0)/);
      await sleep(2100);
      const r = await proxy.get('/capped');
      assert.equal(r.body, 'body');
      assert.match(cacheStatus(r), /fwd=stale; fwd-status=304/);
      const seen = origin.requests.filter((x) => x.url === '/capped');
      assert.equal(seen.length, 2);
      assert.equal(seen[1]!.headers['if-none-match'], '"v1"');
    } finally {
      await proxy.close();
    }
  });
});
