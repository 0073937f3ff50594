// HTTPS with real TLS on loopback: termination on TLS_PORT over HTTP/1.1 and HTTP/2, interception
// of CONNECT tunnels in forward mode with Tiercel's own CA, blind tunnels for excluded hosts and
// non-TLS traffic, and origin certificate verification. Certificates are made here with openssl;
// curl is the client.
import assert from 'node:assert/strict';
import { copyFileSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { connect as netConnect } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { LeafCertificates } from '../../src/tls/certificate-authority';
import { LEAF_CERTIFICATES } from '../../src/tls/tls.module';
import { startOrigin, TestOrigin } from '../support/origin';
import { startProxy, TestProxy } from '../support/tiercel';
import { curl, makeCa, makeLeaf, Pki, startTlsOrigin, tempDir, TlsOrigin } from '../support/tls';

const withoutTtl = (cs: string | undefined) => (cs ?? '').replace(/;\s*ttl=\d+/, '');

describe('TLS termination on TLS_PORT', () => {
  let pki: Pki;
  let origin: TestOrigin;
  let proxy: TestProxy;
  let files: { cert: string; key: string };
  let dir: string;

  before(async () => {
    dir = tempDir();
    pki = await makeCa(dir, 'Terminating CA');
    files = await makeLeaf(pki, 'tiercel-front');
    origin = await startOrigin((req, res) => {
      // Connection-specific fields an HTTP/2 client must never see (RFC 9113 §8.2.2).
      res.writeHead(200, { 'content-type': 'text/plain', 'cache-control': 'max-age=60', 'keep-alive': 'timeout=5', upgrade: 'h2c', connection: 'upgrade, keep-alive' });
      res.write('body of ');
      res.end(req.url);
    });
    proxy = await startProxy({ UPSTREAM_URL: origin.url, TLS_PORT: '0', TLS_CERT: files.cert, TLS_KEY: files.key });
  });
  after(async () => {
    await proxy?.close();
    await origin?.close();
  });

  test('HTTP/1.1 and HTTP/2 share the cache: the second request is a hit, with the same Cache-Status either way', async () => {
    const port = proxy.tiercel.tlsPort!;
    const url = `https://localhost:${port}/shared`;
    const first = await curl(['--http1.1', '--cacert', pki.caCert, url]);
    assert.equal(first.status, 200, first.stderr);
    assert.equal(first.version, '1.1');
    assert.equal(first.body, 'body of /shared');
    assert.match(first.headers['cache-status']!, /fwd=uri-miss/);
    const h1 = await curl(['--http1.1', '--cacert', pki.caCert, url]);
    const h2 = await curl(['--http2', '--cacert', pki.caCert, url]);
    assert.equal(h2.status, 200, h2.stderr);
    assert.equal(h2.version, '2');
    assert.match(h1.headers['cache-status']!, /; hit/);
    assert.equal(withoutTtl(h2.headers['cache-status']), withoutTtl(h1.headers['cache-status']));
    assert.equal(h2.body, 'body of /shared');
    assert.equal(origin.count('/shared'), 1);
    for (const name of ['connection', 'keep-alive', 'upgrade', 'transfer-encoding', 'proxy-connection']) assert.equal(h2.headers[name], undefined, name);
  });

  test('an HTTP/2 miss streams the origin response without its connection-specific fields', async () => {
    const port = proxy.tiercel.tlsPort!;
    const r = await curl(['--http2', '--cacert', pki.caCert, `https://localhost:${port}/h2-miss`]);
    assert.equal(r.status, 200, r.stderr);
    assert.equal(r.version, '2');
    assert.equal(r.body, 'body of /h2-miss');
    assert.match(r.headers['cache-status']!, /fwd=uri-miss; fwd-status=200; stored/);
    for (const name of ['connection', 'keep-alive', 'upgrade', 'transfer-encoding']) assert.equal(r.headers[name], undefined, name);
    // The origin sees no pseudo-header fields and is told the client came over https.
    const seen = origin.requests.find((q) => q.url === '/h2-miss')!;
    assert.equal(Object.keys(seen.headers).some((h) => h.startsWith(':')), false);
    assert.equal(seen.headers['x-forwarded-proto'], 'https');
  });

  test('reloading the certificate serves the new one to new connections and keeps open ones', async () => {
    const port = proxy.tiercel.tlsPort!;
    const fingerprint = async () => {
      const { execFile } = await import('node:child_process');
      return new Promise<string>((resolve) => {
        const c = execFile('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, '-servername', 'localhost'], (_e, out) => resolve(/BEGIN CERTIFICATE-----\n([\s\S]+?)-----END/.exec(out)?.[1] ?? ''));
        c.stdin!.end();
      });
    };
    const before = await fingerprint();
    // An HTTP/2 connection opened before the reload.
    const http2 = await import('node:http2');
    const session = http2.connect(`https://localhost:${port}`, { ca: readFileSync(pki.caCert) });
    const get = (path: string) => new Promise<number>((resolve, reject) => {
      const s = session.request({ ':path': path });
      s.on('response', (h) => resolve(Number(h[':status'])));
      s.on('error', reject);
      s.resume();
    });
    assert.equal(await get('/before-reload'), 200);
    const next = await makeLeaf(pki, 'tiercel-front-2');
    copyFileSync(next.cert, files.cert);
    copyFileSync(next.key, files.key);
    const reloaded = await proxy.tiercel.reloaders.runAll(proxy.tiercel.logger, 'test');
    assert.deepEqual(reloaded, { 'tls-certificates': { ok: true } });
    const afterReload = await fingerprint();
    assert.notEqual(afterReload, before);
    assert.equal(afterReload, /BEGIN CERTIFICATE-----\n([\s\S]+?)-----END/.exec(readFileSync(next.cert, 'utf8'))![1]);
    assert.equal(await get('/after-reload'), 200, 'the connection opened before the reload still works');
    session.close();
    // A broken file leaves the current certificate in place.
    writeFileSync(files.cert, 'not a certificate');
    const refused = await proxy.tiercel.reloaders.runAll(proxy.tiercel.logger, 'test');
    assert.equal(refused['tls-certificates']!.ok, false);
    assert.equal(await fingerprint(), afterReload);
    copyFileSync(next.cert, files.cert);
  });
});

describe('HTTPS interception in forward mode', () => {
  let dir: string;
  let pki: Pki;
  let origin: TlsOrigin;
  let proxy: TestProxy;
  let caFile: string;
  const env = () => ({ INTERCEPT: 'true', DATA_DIR: join(dir, 'data'), CONNECT_PORTS: '*', UPSTREAM_CA: pki.caCert, LOG_LEVEL: 'silent' });

  before(async () => {
    dir = tempDir();
    pki = await makeCa(dir, 'Private Origin CA');
    origin = await startTlsOrigin(await makeLeaf(pki, 'origin'));
    proxy = await startProxy(env());
    const ca = await proxy.admin('/ca.crt');
    assert.equal(ca.status, 200);
    caFile = join(dir, 'tiercel-ca.crt');
    writeFileSync(caFile, ca.body);
  });
  after(async () => {
    await proxy?.close();
    await origin?.close();
  });

  test('the CA is generated into DATA_DIR with its key readable by the owner only, and served as PEM and DER', async () => {
    assert.equal(statSync(join(dir, 'data', 'ca.key')).mode & 0o777, 0o600);
    assert.equal(readFileSync(join(dir, 'data', 'ca.crt'), 'utf8'), readFileSync(caFile, 'utf8'));
    const der = await new Promise<Buffer>((resolve, reject) => {
      import('node:http').then(({ get }) => get(`http://127.0.0.1:${proxy.adminPort}/ca.crt?format=der`, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve(Buffer.concat(chunks)));
      }).on('error', reject));
    });
    const { X509Certificate } = await import('node:crypto');
    const fromDer = new X509Certificate(der);
    assert.equal(fromDer.ca, true);
    assert.equal(fromDer.fingerprint256, new X509Certificate(readFileSync(caFile)).fingerprint256);
    assert.match(fromDer.publicKey.asymmetricKeyType!, /^ec$/);
  });

  test('two requests through the tunnel reach the origin once; the second is a hit, over HTTP/1.1 and HTTP/2', async () => {
    const url = `https://localhost:${origin.port}/x`;
    const a = await curl(['-x', `http://127.0.0.1:${proxy.port}`, '--cacert', caFile, '--http1.1', url]);
    assert.equal(a.status, 200, a.stderr);
    assert.equal(a.body, 'origin says /x\n');
    assert.match(a.headers['cache-status']!, /fwd=uri-miss; fwd-status=200; stored/);
    const b = await curl(['-x', `http://127.0.0.1:${proxy.port}`, '--cacert', caFile, '--http1.1', url]);
    assert.match(b.headers['cache-status']!, /^tiercel; hit/);
    const c = await curl(['-x', `http://127.0.0.1:${proxy.port}`, '--cacert', caFile, '--http2', url]);
    assert.equal(c.version, '2');
    assert.match(c.headers['cache-status']!, /^tiercel; hit/);
    assert.equal(origin.count('/x'), 1);
    // Cached under its https:// URL, apart from a plaintext URL of the same host and path.
    const plain = await proxy.get(`http://localhost:${origin.port}/x`);
    assert.notEqual(plain.status, 200);
  });

  test('a Host naming another authority inside the tunnel is misdirected', async () => {
    const r = await curl(['-x', `http://127.0.0.1:${proxy.port}`, '--cacert', caFile, '--http1.1', '-H', 'Host: elsewhere.example', `https://localhost:${origin.port}/mis`]);
    assert.equal(r.status, 421);
    assert.equal(origin.count('/mis'), 0);
  });

  test('concurrent handshakes for one new host generate one certificate', async () => {
    const leaves = proxy.tiercel.app.get<LeafCertificates>(LEAF_CERTIFICATES);
    const before = leaves.generated;
    const results = await Promise.all(Array.from({ length: 8 }, (_, i) =>
      curl(['-x', `http://127.0.0.1:${proxy.port}`, '--cacert', caFile, '--http1.1', `https://127.0.0.1:${origin.port}/concurrent-${i}`])));
    for (const r of results) assert.equal(r.status, 200, r.stderr);
    assert.equal(leaves.generated - before, 1);
  });

  test('an origin whose certificate is not trusted answers 502 with the reason', async () => {
    const other = await makeCa(dir, 'Unknown CA');
    const untrusted = await startTlsOrigin(await makeLeaf(other, 'untrusted'));
    try {
      const r = await curl(['-x', `http://127.0.0.1:${proxy.port}`, '--cacert', caFile, '--http1.1', `https://localhost:${untrusted.port}/secret`]);
      assert.equal(r.status, 502);
      assert.match(r.headers['cache-status']!, /detail=tls-cert-invalid/);
      assert.match(r.body, /certificate was not accepted \((UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT_LOCALLY)/);
      assert.equal(untrusted.count('/secret'), 0);
    } finally {
      await untrusted.close();
    }
  });

  test('an excluded host gets the blind tunnel and the origin\'s own certificate', async () => {
    const excluding = await startProxy({ ...env(), INTERCEPT_EXCLUDE: 'local*,*.example.org' });
    try {
      const url = `https://localhost:${origin.port}/excluded`;
      // Only the origin's CA verifies: the certificate is the origin's, not Tiercel's.
      const a = await curl(['-x', `http://127.0.0.1:${excluding.port}`, '--cacert', pki.caCert, url]);
      const b = await curl(['-x', `http://127.0.0.1:${excluding.port}`, '--cacert', pki.caCert, url]);
      assert.equal(a.status, 200, a.stderr);
      assert.equal(b.status, 200, b.stderr);
      assert.equal(a.headers['cache-status'], undefined);
      assert.equal(origin.count('/excluded'), 2);
      const withOurs = await curl(['-x', `http://127.0.0.1:${excluding.port}`, '--cacert', caFile, url]);
      assert.equal(withOurs.status, 0, `Tiercel's CA does not verify the origin's own certificate: ${JSON.stringify(withOurs)}`);
    } finally {
      await excluding.close();
    }
  });

  test('a CONNECT carrying plaintext is still tunnelled', async () => {
    const plain = await startOrigin((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('plain through the tunnel');
    });
    try {
      const reply = await new Promise<string>((resolve, reject) => {
        const s = netConnect(proxy.port, '127.0.0.1');
        let got = '';
        s.on('data', (d) => {
          got += d;
          if (got.includes('200 Connection Established\r\n\r\n') && !got.includes('GET sent')) {
            got += 'GET sent';
            s.write(`GET /p HTTP/1.1\r\nHost: 127.0.0.1:${plain.port}\r\nConnection: close\r\n\r\n`);
          }
        });
        s.on('end', () => resolve(got));
        s.on('error', reject);
        s.setTimeout(5000, () => reject(new Error('timeout')));
        s.write(`CONNECT 127.0.0.1:${plain.port} HTTP/1.1\r\nHost: 127.0.0.1:${plain.port}\r\n\r\n`);
      });
      assert.match(reply, /HTTP\/1\.1 200 OK[\s\S]*plain through the tunnel/);
      assert.equal(plain.count('/p'), 1);
    } finally {
      await plain.close();
    }
  });

  test('a broken ClientHello or a client that refuses the certificate loses its tunnel, never the proxy', async () => {
    const garbage = async (bytes: Buffer) => new Promise<string>((resolve) => {
      const s = netConnect(proxy.port, '127.0.0.1');
      let got = '';
      s.on('data', (d) => {
        got += d;
        if (got.endsWith('\r\n\r\n') && got.startsWith('HTTP/1.1 200')) s.write(bytes);
      });
      s.on('close', () => resolve(got));
      s.on('error', () => {});
      s.setTimeout(5000, () => s.destroy());
      s.write(`CONNECT localhost:${origin.port} HTTP/1.1\r\nHost: localhost:${origin.port}\r\n\r\n`);
    });
    // A TLS record header announcing a handshake, then nonsense.
    await garbage(Buffer.concat([Buffer.from([0x16, 0x03, 0x01, 0x00, 0x40]), Buffer.alloc(64, 0xff)]));
    // curl without Tiercel's CA rejects the certificate and hangs up mid-handshake.
    const refused = await curl(['-x', `http://127.0.0.1:${proxy.port}`, '--cacert', pki.caCert, `https://localhost:${origin.port}/refused`]);
    assert.equal(refused.status, 0);
    const ok = await curl(['-x', `http://127.0.0.1:${proxy.port}`, '--cacert', caFile, `https://localhost:${origin.port}/after-garbage`]);
    assert.equal(ok.status, 200, ok.stderr);
  });

  test('a restart reuses the generated CA', async () => {
    const again = await startProxy(env());
    try {
      const ca = await again.admin('/ca.crt');
      assert.equal(ca.body, readFileSync(caFile, 'utf8'));
    } finally {
      await again.close();
    }
  });

  test('without INTERCEPT there is no CA to serve', async () => {
    const off = await startProxy({ LOG_LEVEL: 'silent' });
    try {
      assert.equal((await off.admin('/ca.crt')).status, 404);
    } finally {
      await off.close();
    }
  });
});

describe('origin certificate verification in reverse mode', () => {
  test('an https UPSTREAM_URL with a private CA answers 502 with the reason until UPSTREAM_CA trusts it', async () => {
    const dir = tempDir();
    const pki = await makeCa(dir, 'Reverse Origin CA');
    const origin = await startTlsOrigin(await makeLeaf(pki, 'reverse-origin'));
    const url = `https://localhost:${origin.port}`;
    const strict = await startProxy({ UPSTREAM_URL: url });
    const trusting = await startProxy({ UPSTREAM_URL: url, UPSTREAM_CA: pki.caCert });
    try {
      const refused = await strict.get('/r');
      assert.equal(refused.status, 502);
      assert.match(refused.headers['cache-status'] as string, /detail=tls-cert-invalid/);
      assert.match(refused.body, /UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT_LOCALLY/);
      const ok = await trusting.get('/r');
      assert.equal(ok.status, 200);
      assert.equal(ok.body, 'origin says /r\n');
      assert.equal(origin.count('/r'), 1);
    } finally {
      await strict.close();
      await trusting.close();
      await origin.close();
    }
  });
});
