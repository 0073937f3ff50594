// HTTPS in a real Tiercel process: SIGHUP reloads the TLS port's certificate without dropping
// an open HTTP/2 connection, every CONNECT tunnel (intercepted or blind) is counted in /metrics
// and logged with its bytes and duration, and UPSTREAM_TLS_INSECURE is announced at start.
import assert from 'node:assert/strict';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { connect as h2connect } from 'node:http2';
import { connect as netConnect } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { send, sleep } from '../support/client';
import { startOrigin, TestOrigin } from '../support/origin';
import { startTiercel, stopTiercel } from '../observability/support';
import type { TiercelProcess } from '../support/process';
import { curl, makeCa, makeLeaf, Pki, startTlsOrigin, tempDir, TlsOrigin } from '../support/tls';

const certBody = (pemText: string) => /BEGIN CERTIFICATE-----\n([\s\S]+?)-----END/.exec(pemText)?.[1] ?? '';

async function servedCertificate(port: number): Promise<string> {
  const { execFile } = await import('node:child_process');
  return new Promise<string>((resolve) => {
    const c = execFile('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, '-servername', 'localhost'], { timeout: 5000 }, (_e, out) => resolve(certBody(out)));
    c.stdin!.end();
  });
}

async function until(what: string, check: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

describe('HTTPS in a Tiercel process', () => {
  let dir: string;
  let pki: Pki;
  let files: { cert: string; key: string };
  let tlsOrigin: TlsOrigin;
  let plain: TestOrigin;
  let t: TiercelProcess;
  let tlsPort: number;

  before(async () => {
    dir = tempDir();
    pki = await makeCa(dir, 'Process CA');
    files = await makeLeaf(pki, 'front');
    tlsOrigin = await startTlsOrigin(await makeLeaf(pki, 'origin'));
    plain = await startOrigin((_req, res) => void res.end('plain'));
    t = await startTiercel({
      TLS_PORT: '0', TLS_CERT: files.cert, TLS_KEY: files.key,
      INTERCEPT: 'true', DATA_DIR: join(dir, 'data'), CONNECT_PORTS: '*', UPSTREAM_CA: pki.caCert,
    });
    const started = t.stdout().split('\n').find((l) => l.includes('"tiercel started"'))!;
    tlsPort = JSON.parse(started).tlsPort;
    assert.equal(typeof tlsPort, 'number');
  });
  after(async () => {
    await stopTiercel(t);
    await tlsOrigin?.close();
    await plain?.close();
  });

  test('SIGHUP reloads TLS_CERT/TLS_KEY: new handshakes get the new certificate, an open HTTP/2 connection goes on', async () => {
    assert.equal(await servedCertificate(tlsPort), certBody(readFileSync(files.cert, 'utf8')));
    const session = h2connect(`https://localhost:${tlsPort}`, { ca: readFileSync(pki.caCert) });
    session.on('error', () => {});
    const get = (path: string) => new Promise<string>((resolve, reject) => {
      const s = session.request({ ':path': path });
      let status = '';
      s.on('response', (h) => (status = String(h[':status'])));
      s.on('error', reject);
      s.on('end', () => resolve(status));
      s.resume();
    });
    // Forward mode on the TLS port: an origin-form request is refused with Tiercel's 400, over HTTP/2.
    assert.equal(await get('/before'), '400');
    const next = await makeLeaf(pki, 'front-2');
    copyFileSync(next.cert, files.cert);
    copyFileSync(next.key, files.key);
    t.child.kill('SIGHUP');
    await until('the reload log line', () => t.stdout().includes('"reloaded":"tls-certificates"'));
    assert.equal(await servedCertificate(tlsPort), certBody(readFileSync(next.cert, 'utf8')));
    assert.equal(await get('/after'), '400', 'the HTTP/2 connection opened before SIGHUP still answers');
    session.close();
    // A file that does not load is logged and the certificate stays.
    writeFileSync(files.key, 'garbage');
    t.child.kill('SIGHUP');
    await until('the failed reload line', () => t.stdout().includes('tls-certificates reload refused'));
    assert.equal(await servedCertificate(tlsPort), certBody(readFileSync(next.cert, 'utf8')));
    assert.equal(t.child.exitCode, null);
  });

  test('every tunnel is counted and logged: intercepted and blind, bytes each way, duration', async () => {
    const caFile = join(dir, 'tiercel-ca.crt');
    writeFileSync(caFile, (await send(t.adminPort, '/ca.crt')).body);
    const r = await curl(['-x', `http://127.0.0.1:${t.proxyPort}`, '--cacert', caFile, `https://localhost:${tlsOrigin.port}/counted`]);
    assert.equal(r.status, 200, r.stderr);
    await new Promise<void>((resolve, reject) => {
      const s = netConnect(t.proxyPort, '127.0.0.1');
      s.on('data', (d) => {
        if (String(d).includes('200 Connection Established')) s.end(`GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
      });
      s.on('close', () => resolve());
      s.on('error', reject);
      s.write(`CONNECT 127.0.0.1:${plain.port} HTTP/1.1\r\nHost: 127.0.0.1:${plain.port}\r\n\r\n`);
    });
    await until("two tunnel log lines", () => t.stdout().split("\n").filter((l) => l.includes("\"tunnel closed\"")).length >= 2).catch((e) => { throw new Error(e.message + t.stdout()); });
    const lines = t.stdout().split('\n').filter((l) => l.includes('"tunnel closed"')).map((l) => JSON.parse(l));
    const intercepted = lines.find((l) => l.intercepted === true)!;
    const blind = lines.find((l) => l.intercepted === false)!;
    for (const l of [intercepted, blind]) {
      assert.equal(l.level, 'info');
      assert.equal(l.host, l === blind ? '127.0.0.1' : 'localhost');
      assert.ok(l.bytes_client_to_origin > 0 && l.bytes_origin_to_client > 0, JSON.stringify(l));
      assert.equal(typeof l.duration_ms, 'number');
      assert.equal(l.result, 'ok');
    }
    // The blind tunnel's bytes are exactly what crossed it: the GET one way, the origin's answer the other.
    assert.equal(blind.bytes_client_to_origin, Buffer.byteLength('GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'));
    const metrics = (await send(t.adminPort, '/metrics')).body;
    const value = (re: RegExp) => Number(re.exec(metrics)?.[1] ?? NaN);
    assert.ok(value(/^tiercel_tunnels_total\{[^}]*result="ok"[^}]*\} (\d+)/m) >= 2, metrics);
    assert.ok(value(/^tiercel_tunnel_bytes_total\{[^}]*direction="client_to_origin"[^}]*\} (\d+)/m) > 0);
    assert.ok(value(/^tiercel_tunnel_bytes_total\{[^}]*direction="origin_to_client"[^}]*\} (\d+)/m) > 0);
    assert.ok(value(/^tiercel_tunnel_duration_seconds_count\{[^}]*\} (\d+)/m) >= 2);
    assert.equal(value(/^tiercel_tunnels_open\{[^}]*\} (\d+)/m), 0);
    assert.match(metrics, /# TYPE tiercel_tunnel_duration_seconds histogram/);
  });
});

describe('UPSTREAM_TLS_INSECURE', () => {
  test('is announced loudly at start, and then an untrusted origin is reached', async () => {
    const dir = tempDir();
    const pki = await makeCa(dir, 'Untrusted CA');
    const origin = await startTlsOrigin(await makeLeaf(pki, 'insecure-origin'));
    const t = await startTiercel({ UPSTREAM_URL: `https://localhost:${origin.port}`, UPSTREAM_TLS_INSECURE: 'true' });
    try {
      const warning = t.stdout().split('\n').find((l) => l.includes('UPSTREAM_TLS_INSECURE=true'));
      assert.ok(warning, t.stdout());
      assert.equal(JSON.parse(warning).level, 'warn');
      assert.match(warning, /NOT VERIFIED/);
      const r = await send(t.proxyPort, '/i');
      assert.equal(r.status, 200);
    } finally {
      await stopTiercel(t);
      await origin.close();
    }
  });
});
