// Hostile clients: one client must not change what another gets (unkeyed inputs, key
// injection), and malformed requests are refused, never dialled or cached.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { send } from '../support/client';
import { uniquePath, useReverseProxy } from '../support/fixture';
import { rawExchange } from '../support/raw';
import { startOrigin, TestOrigin } from '../support/origin';
import { startProxy, TestProxy } from '../support/tiercel';


/** An origin route that reflects what a page would be built from. */
function reflecting(origin: TestOrigin, path: string): void {
  origin.handle(path, (req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain', 'cache-control': 'max-age=60' });
    res.end(`host=${req.headers['x-forwarded-host']} proto=${req.headers['x-forwarded-proto']} for=${req.headers['x-forwarded-for']} fwd=${req.headers.forwarded}`);
  });
}

describe('unkeyed forwarding headers from clients', () => {
  const f = useReverseProxy();

  it('X-Forwarded-Host, -Proto, -For and Forwarded from an untrusted client never reach the origin', async () => {
    const path = uniquePath('xfh');
    reflecting(f.origin, path);
    const evil = await f.proxy.get(path, { headers: { host: 'site.test', 'x-forwarded-host': 'evil.example', 'x-forwarded-proto': 'gopher', 'x-forwarded-for': '6.6.6.6', forwarded: 'for=6.6.6.6;host=evil.example' } });
    assert.equal(evil.body, 'host=site.test proto=http for=127.0.0.1 fwd=for=127.0.0.1;host=site.test;proto=http');
    const victim = await f.proxy.get(path, { headers: { host: 'site.test' } });
    assert.doesNotMatch(victim.body, /evil|gopher|6\.6\.6\.6/);
  });
});

describe('forwarding headers from a trusted proxy', () => {
  const f = useReverseProxy({ TRUSTED_PROXIES: '127.0.0.1/32' });

  it('are kept and extended', async () => {
    const path = uniquePath('xfh-trusted');
    reflecting(f.origin, path);
    const r = await f.proxy.get(path, { headers: { host: 'site.test', 'x-forwarded-host': 'www.site.test', 'x-forwarded-proto': 'https', 'x-forwarded-for': '203.0.113.9', forwarded: 'for=203.0.113.9;proto=https' } });
    assert.equal(r.body, 'host=www.site.test proto=https for=203.0.113.9, 127.0.0.1 fwd=for=203.0.113.9;proto=https, for=127.0.0.1;host=site.test;proto=http');
  });
});

describe('forward mode sets X-Forwarded-Host from the target, not the client\'s Host', () => {
  let origin: TestOrigin;
  let proxy: TestProxy;
  before(async () => {
    origin = await startOrigin();
    proxy = await startProxy({});
  });
  after(async () => {
    await proxy?.close();
    await origin?.close();
  });

  it('the origin sees the authority of the absolute URL', async () => {
    const path = uniquePath('fwd-xfh');
    reflecting(origin, path);
    const r = await send(proxy.port, `http://127.0.0.1:${origin.port}${path}`, { headers: { host: 'evil.example' } });
    assert.match(r.body, new RegExp(`^host=127\\.0\\.0\\.1:${origin.port} `));
  });
});

describe('the cache key', () => {
  const f = useReverseProxy();

  it('a Host with / or ? is refused, so it can never collide with another host\'s path', async () => {
    const path = uniquePath('hs');
    f.origin.handle(`/p/r${path}`, (_req, res) => void res.writeHead(200, { 'cache-control': 'max-age=60' }).end('victim page'));
    f.origin.handle(path, (_req, res) => void res.writeHead(200, { 'cache-control': 'max-age=60' }).end('attacker page'));
    for (const host of ['victim.test/p/r', 'victim.test?x=', 'victim.test#frag', 'user@victim.test', 'victim.test:99999', 'bad host']) {
      const r = await rawExchange(f.proxy.port, `GET ${path} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
      assert.match(r, /^HTTP\/1\.1 400 /, `Host: ${host}: ${r.split('\r\n')[0]}`);
    }
    const victim = await f.proxy.get(`/p/r${path}`, { headers: { host: 'victim.test' } });
    assert.equal(victim.body, 'victim page');
    assert.equal(f.origin.count(path), 0, 'no request with a malformed Host reached the origin');
  });

  it('the origin is asked for the normalised authority the key holds, not the client\'s spelling', async () => {
    const path = uniquePath('host-spelling');
    f.origin.handle(path, (req, res) => void res.writeHead(200, { 'cache-control': 'max-age=60' }).end(`rendered for ${req.headers.host}`));
    const odd = await f.proxy.get(path, { headers: { host: 'VICTIM.Test:80' } });
    assert.equal(odd.body, 'rendered for victim.test');
    const victim = await f.proxy.get(path, { headers: { host: 'victim.test' } });
    assert.equal(victim.body, 'rendered for victim.test');
  });

  it('two Host fields are refused', async () => {
    const r = await rawExchange(f.proxy.port, `GET ${uniquePath('two-hosts')} HTTP/1.1\r\nHost: a.test\r\nHost: b.test\r\nConnection: close\r\n\r\n`);
    assert.match(r, /^HTTP\/1\.1 400 /);
  });

  it('Host is normalised: case and the default port make one key', async () => {
    const path = uniquePath('host-case');
    f.origin.handle(path, (_req, res) => void res.writeHead(200, { 'cache-control': 'max-age=60' }).end('one'));
    for (const host of ['Site.Test', 'site.test', 'SITE.TEST:80']) assert.equal((await f.proxy.get(path, { headers: { host } })).body, 'one');
    assert.equal(f.origin.count(path), 1);
    await f.proxy.get(path, { headers: { host: 'site.test:8081' } });
    assert.equal(f.origin.count(path), 2, 'another port is another authority');
  });

  it('a GET with a body is passed with its body and never answers for body-less GETs', async () => {
    const path = uniquePath('get-body');
    f.origin.handle(path, (_req, res, seen) => void res.writeHead(200, { 'cache-control': 'max-age=60' }).end(`body=${seen.body}`));
    const withBody = await f.proxy.get(path, { body: 'poison', headers: { 'content-type': 'text/plain', 'content-length': '6' } });
    assert.equal(withBody.body, 'body=poison');
    assert.match(String(withBody.headers['cache-status']), /fwd=bypass; fwd-status=200; detail=request-body/);
    const chunked = await f.proxy.get(path, { body: 'poison2', headers: { 'transfer-encoding': 'chunked' } });
    assert.equal(chunked.body, 'body=poison2');
    const plain = await f.proxy.get(path);
    assert.equal(plain.body, 'body=');
    assert.match(String(plain.headers['cache-status']), /fwd=uri-miss/);
  });

  it('a field the client\'s Connection header strips does not select the variant', async () => {
    const path = uniquePath('conn-vary');
    f.origin.handle(path, (req, res) => {
      res.writeHead(200, { 'cache-control': 'max-age=60', vary: 'X-Tenant' });
      res.end(`tenant=${req.headers['x-tenant'] ?? 'none'}`);
    });
    const stripped = await f.proxy.get(path, { headers: { 'x-tenant': 'good', connection: 'x-tenant' } });
    assert.equal(stripped.body, 'tenant=none');
    const good = await f.proxy.get(path, { headers: { 'x-tenant': 'good' } });
    assert.equal(good.body, 'tenant=good', 'the tenant got the answer meant for no tenant');
    const none = await f.proxy.get(path);
    assert.equal(none.body, 'tenant=none');
    assert.match(String(none.headers['cache-status']), /; hit;/);
  });
});

describe('malformed request lines', () => {
  const f = useReverseProxy();

  it('an HTTP/0.9 request line is refused', async () => {
    const r = await rawExchange(f.proxy.port, 'GET /\r\n\r\n');
    assert.match(r, /^HTTP\/1\.1 400 /);
    assert.equal(f.origin.count('/'), 0);
  });
});

describe('CONNECT targets in forward mode', () => {
  let proxy: TestProxy;
  before(async () => {
    proxy = await startProxy({ CONNECT_PORTS: '*' });
  });
  after(() => proxy?.close());

  for (const target of ['[::1:443', '::1:443', '[::1]x:443', 'host:', ':443', 'a b:443', '[zz::1]:443']) {
    it(`refuses CONNECT ${target} with 400 before dialling`, async () => {
      const r = await rawExchange(proxy.port, `CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n\r\n`);
      assert.match(r, /^HTTP\/1\.1 400 /, r.split('\r\n')[0]);
    });
  }
});
