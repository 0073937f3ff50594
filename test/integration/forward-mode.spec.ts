import assert from 'node:assert/strict';
import { connect, createServer, Server } from 'node:net';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { startOrigin, TestOrigin } from '../support/origin';
import { startProxy, TestProxy } from '../support/tiercel';

/** Sends a raw request on a new connection and returns everything the proxy writes until it closes or `until` matches. */
function raw(port: number, payload: string, until?: RegExp, timeoutMs = 5000): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1');
    let out = '';
    const timer = setTimeout(() => { s.destroy(); resolve(out); }, timeoutMs);
    s.on('data', (d) => {
      out += d.toString('latin1');
      if (until && until.test(out)) { clearTimeout(timer); s.destroy(); resolve(out); }
    });
    s.on('end', () => { clearTimeout(timer); resolve(out); });
    s.on('error', reject);
    s.write(payload);
  });
}

describe('forward mode (no UPSTREAM_URL)', () => {
  let origin: TestOrigin;
  let proxy: TestProxy;
  let echo: Server;
  let echoPort: number;

  before(async () => {
    origin = await startOrigin();
    origin.handle('/page', (req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain', 'cache-control': 'max-age=60' });
      res.end(`page for ${req.headers.host}`);
    });
    proxy = await startProxy({ CONNECT_PORTS: '*' });
    // A TCP echo server stands in for a TLS origin: CONNECT is blind, so any bytes must cross.
    echo = createServer((s) => s.pipe(s));
    await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
    echoPort = (echo.address() as AddressInfo).port;
  });
  after(async () => {
    await proxy.close();
    await origin.close();
    await new Promise<void>((r) => echo.close(() => r()));
  });

  it('fetches absolute-form requests and caches them by their full URL', async () => {
    const url = `${origin.url}/page`;
    const first = await proxy.get(url);
    assert.equal(first.status, 200);
    assert.equal(first.body, `page for 127.0.0.1:${origin.port}`);
    assert.equal(first.headers['x-cache'], 'MISS');
    const second = await proxy.get(url);
    assert.equal(second.headers['x-cache'], 'HIT');
    assert.match(String(second.headers['cache-status']), /hit; detail=l1/);
    assert.equal(second.body, first.body);
    assert.equal(origin.count('/page'), 1);
    // The same path on another authority is another object.
    const other = await proxy.get(`http://localhost:${origin.port}/page`);
    assert.equal(other.headers['x-cache'], 'MISS');
    assert.equal(origin.count('/page'), 2);
  });

  it('answers an origin-form request with 400 explaining forward mode', async () => {
    const res = await proxy.get('/page');
    assert.equal(res.status, 400);
    assert.match(res.body, /forward proxy/);
    assert.match(String(res.headers['cache-status']), /detail=not-absolute-form/);
  });

  it('tunnels CONNECT blind, both ways', { timeout: 10_000 }, async () => {
    const out = await raw(proxy.port, `CONNECT 127.0.0.1:${echoPort} HTTP/1.1\r\nHost: 127.0.0.1:${echoPort}\r\n\r\n`, /Established\r\n\r\n/);
    assert.match(out, /^HTTP\/1\.1 200 Connection Established\r\n\r\n$/);
    const s = connect(proxy.port, '127.0.0.1');
    const got = await new Promise<string>((resolve, reject) => {
      let buf = '';
      s.on('data', (d) => {
        buf += d.toString('latin1');
        if (buf.includes('\r\n\r\n') && !buf.includes('sent-through')) s.write(Buffer.from('sent-through-the-tunnel\x00\xff', 'latin1'));
        if (buf.endsWith('sent-through-the-tunnel\x00\xff')) { s.destroy(); resolve(buf); }
      });
      s.on('error', reject);
      s.write(`CONNECT 127.0.0.1:${echoPort} HTTP/1.1\r\nHost: x\r\n\r\n`);
    });
    assert.ok(got.endsWith('\r\n\r\nsent-through-the-tunnel\x00\xff'));
  });

  it('refuses CONNECT to a port outside CONNECT_PORTS', async () => {
    const strict = await startProxy({ CONNECT_PORTS: '443' });
    try {
      const out = await raw(strict.port, `CONNECT 127.0.0.1:${echoPort} HTTP/1.1\r\nHost: x\r\n\r\n`);
      assert.match(out, /^HTTP\/1\.1 403 Forbidden/);
      assert.match(out, /CONNECT_PORTS/);
    } finally {
      await strict.close();
    }
  });

  it('answers 502 when the CONNECT target refuses', async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    const out = await raw(proxy.port, `CONNECT 127.0.0.1:${port} HTTP/1.1\r\nHost: x\r\n\r\n`);
    assert.match(out, /^HTTP\/1\.1 502 Bad Gateway/);
  });

  it('refuses clients outside ALLOWED_CLIENTS with 403, for plain requests and CONNECT', async () => {
    const closedProxy = await startProxy({ ALLOWED_CLIENTS: '10.0.0.0/8', CONNECT_PORTS: '*' });
    try {
      const res = await closedProxy.get(`${origin.url}/page`);
      assert.equal(res.status, 403);
      assert.match(res.body, /ALLOWED_CLIENTS/);
      const out = await raw(closedProxy.port, `CONNECT 127.0.0.1:${echoPort} HTTP/1.1\r\nHost: x\r\n\r\n`);
      assert.match(out, /^HTTP\/1\.1 403 Forbidden/);
      assert.equal(origin.count('/page'), 2);
    } finally {
      await closedProxy.close();
    }
  });
});
