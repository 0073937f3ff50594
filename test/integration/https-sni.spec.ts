// Several certificates on TLS_PORT, chosen by the client's server name (TLS_SNI_CERTS, RFC 6066 §3):
// real TLS handshakes on loopback with node:tls and node:http2, certificates made with openssl.
import assert from 'node:assert/strict';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { connect as h2connect } from 'node:http2';
import { connect as tlsConnect, TLSSocket } from 'node:tls';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startOrigin, TestOrigin } from '../support/origin';
import { startProxy, TestProxy } from '../support/tiercel';
import { makeCa, makeLeaf, Pki, tempDir } from '../support/tls';

interface Handshake { cn: string; authorized: boolean; error: string | null; alpn: string | false | null }

/** One TLS handshake to the TLS port, naming `servername` (or none); what certificate came back and whether it verified for that name. */
function handshake(port: number, ca: string, servername: string | undefined): Promise<Handshake> {
  return new Promise((resolve, reject) => {
    const socket: TLSSocket = tlsConnect({ host: '127.0.0.1', port, ca: readFileSync(ca), ALPNProtocols: ['h2', 'http/1.1'], rejectUnauthorized: false, ...(servername === undefined ? {} : { servername }) }, () => {
      const cert = socket.getPeerCertificate();
      const out = { cn: String(cert.subject?.CN ?? ''), authorized: socket.authorized, error: socket.authorizationError ? String(socket.authorizationError) : null, alpn: socket.alpnProtocol };
      socket.end();
      resolve(out);
    });
    socket.once('error', reject);
    socket.setTimeout(5000, () => socket.destroy(new Error('handshake timed out')));
  });
}

describe('TLS_SNI_CERTS: a certificate per server name on TLS_PORT', () => {
  let pki: Pki;
  let dir: string;
  let origin: TestOrigin;
  let proxy: TestProxy;
  let shop: { cert: string; key: string };
  let api: { cert: string; key: string };

  before(async () => {
    dir = tempDir();
    pki = await makeCa(dir, 'SNI CA');
    const fallback = await makeLeaf(pki, 'tiercel-default');
    shop = await makeLeaf(pki, 'shop-cert', 'DNS:shop.example.test');
    api = await makeLeaf(pki, 'api-wildcard', 'DNS:*.api.example.test');
    origin = await startOrigin((req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain', 'cache-control': 'max-age=60' }).end(`for ${req.headers.host} ${req.url}`);
    });
    proxy = await startProxy({
      UPSTREAM_URL: origin.url, TLS_PORT: '0', TLS_CERT: fallback.cert, TLS_KEY: fallback.key,
      TLS_SNI_CERTS: `shop.example.test=${shop.cert}:${shop.key}, *.api.example.test=${api.cert}:${api.key}`,
    });
  });
  after(async () => {
    await proxy?.close();
    await origin?.close();
  });

  test('each name gets its own certificate, valid for that name; other names and no name get TLS_CERT', async () => {
    const port = proxy.tiercel.tlsPort!;
    const a = await handshake(port, pki.caCert, 'shop.example.test');
    assert.deepEqual(a, { cn: 'shop-cert', authorized: true, error: null, alpn: 'h2' });
    const b = await handshake(port, pki.caCert, 'v2.api.example.test');
    assert.deepEqual(b, { cn: 'api-wildcard', authorized: true, error: null, alpn: 'h2' });
    const upper = await handshake(port, pki.caCert, 'SHOP.Example.Test');
    assert.equal(upper.cn, 'shop-cert');
    // Not the wildcard's: `*` in the glob needs at least the dot before api.
    const other = await handshake(port, pki.caCert, 'api.example.test');
    assert.equal(other.cn, 'tiercel-default');
    assert.equal(other.authorized, false);
    const none = await handshake(port, pki.caCert, undefined);
    assert.equal(none.cn, 'tiercel-default');
  });

  test('an HTTP/2 request under an SNI certificate goes through the cache like any other', async () => {
    const port = proxy.tiercel.tlsPort!;
    const get = () => new Promise<{ status: number; cacheStatus: string; body: string }>((resolve, reject) => {
      const session = h2connect(`https://v1.api.example.test:${port}`, {
        createConnection: () => tlsConnect({ host: '127.0.0.1', port, servername: 'v1.api.example.test', ca: readFileSync(pki.caCert), ALPNProtocols: ['h2'] }),
      });
      session.once('error', reject);
      const stream = session.request({ ':path': '/sni-h2' });
      let body = '';
      let head: Record<string, unknown> = {};
      stream.on('response', (h) => (head = h));
      stream.setEncoding('utf8').on('data', (c: string) => (body += c));
      stream.on('end', () => {
        session.close();
        resolve({ status: Number(head[':status']), cacheStatus: String(head['cache-status']), body });
      });
      stream.on('error', reject);
      stream.end();
    });
    const first = await get();
    assert.equal(first.status, 200);
    assert.equal(first.body, `for v1.api.example.test:${port} /sni-h2`);
    assert.match(first.cacheStatus, /fwd=uri-miss; fwd-status=200; stored/);
    const second = await get();
    assert.match(second.cacheStatus, /; hit/);
    assert.equal(origin.count('/sni-h2'), 1);
  });

  test('SIGHUP reads the SNI pairs again; a pair that does not load keeps every certificate in place', async () => {
    const port = proxy.tiercel.tlsPort!;
    const next = await makeLeaf(pki, 'shop-cert-renewed', 'DNS:shop.example.test');
    const keep = { cert: join(dir, 'shop-old.crt'), key: join(dir, 'shop-old.key') };
    copyFileSync(shop.cert, keep.cert);
    copyFileSync(shop.key, keep.key);
    copyFileSync(next.cert, shop.cert);
    copyFileSync(next.key, shop.key);
    const ok = await proxy.tiercel.reloaders.runAll(proxy.tiercel.logger, 'test');
    assert.equal(ok['tls-certificates']!.ok, true);
    assert.equal((await handshake(port, pki.caCert, 'shop.example.test')).cn, 'shop-cert-renewed');
    assert.equal((await handshake(port, pki.caCert, 'x.api.example.test')).cn, 'api-wildcard');

    writeFileSync(api.key, 'not a key');
    const refused = await proxy.tiercel.reloaders.runAll(proxy.tiercel.logger, 'test');
    assert.equal(refused['tls-certificates']!.ok, false);
    assert.match(String(refused['tls-certificates']!.error), /\*\.api\.example\.test/);
    assert.equal((await handshake(port, pki.caCert, 'x.api.example.test')).cn, 'api-wildcard');
    assert.equal((await handshake(port, pki.caCert, 'shop.example.test')).cn, 'shop-cert-renewed');
  });

  test('a pair that does not load, or a malformed value, stops Tiercel at start naming TLS_SNI_CERTS', async () => {
    const base = { UPSTREAM_URL: origin.url, TLS_PORT: '0', TLS_CERT: shop.cert, TLS_KEY: shop.key };
    await assert.rejects(startProxy({ ...base, TLS_SNI_CERTS: `a.example.test=${join(dir, 'missing.crt')}:${shop.key}` }), /TLS_SNI_CERTS a\.example\.test/);
    await assert.rejects(startProxy({ ...base, TLS_SNI_CERTS: `a.example.test=${shop.cert}` }), /TLS_SNI_CERTS/);
    await assert.rejects(startProxy({ UPSTREAM_URL: origin.url, TLS_SNI_CERTS: `a.example.test=${shop.cert}:${shop.key}` }), /TLS_SNI_CERTS.*TLS_PORT/);
  });
});
