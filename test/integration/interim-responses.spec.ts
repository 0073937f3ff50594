import assert from 'node:assert/strict';
import { request } from 'node:http';
import { describe, it } from 'node:test';
import { uniquePath, useReverseProxy } from '../support/fixture';

interface Exchange { interim: { status: number; headers: Record<string, unknown> }[]; status: number; headers: Record<string, unknown>; body: string; order: string[] }

/** A GET over a real socket that records every interim response (node:http 'information') and the final one, in order. */
function get(port: number, path: string, httpVersion10 = false): Promise<Exchange> {
  return new Promise((resolve, reject) => {
    const out: Exchange = { interim: [], status: 0, headers: {}, body: '', order: [] };
    const req = request({ host: '127.0.0.1', port, path, agent: false, headers: httpVersion10 ? { connection: 'close' } : {} }, (res) => {
      out.status = res.statusCode!;
      out.headers = res.headers;
      out.order.push(String(res.statusCode));
      res.setEncoding('utf8').on('data', (c: string) => (out.body += c)).on('end', () => resolve(out));
    });
    req.on('information', (info) => {
      out.interim.push({ status: info.statusCode, headers: info.headers });
      out.order.push(String(info.statusCode));
    });
    req.on('error', reject);
    req.setTimeout(5000, () => req.destroy(new Error('timed out')));
    req.end();
  });
}

describe('interim responses (RFC 9110 §15.2): forwarded as they arrive, never stored', () => {
  const f = useReverseProxy();

  it('the client sees the origin 103 then the 200; a later hit carries no stored 103', async () => {
    const path = uniquePath('early-hints');
    let n = 0;
    f.origin.handle(path, (_req, res) => {
      n++;
      res.writeEarlyHints({ link: `</style-${n}.css>; rel=preload; as=style`, 'x-hint': `h${n}` });
      // The final response comes later: the 103 must not wait for it.
      setTimeout(() => {
        res.writeHead(200, { 'cache-control': 'max-age=60', 'content-type': 'text/plain' });
        res.end('final');
      }, 100);
    });
    const first = await get(f.proxy.port, path);
    assert.deepEqual(first.order, ['103', '200']);
    assert.equal(first.interim[0]!.headers.link, '</style-1.css>; rel=preload; as=style');
    assert.equal(first.interim[0]!.headers['x-hint'], 'h1');
    assert.equal(first.body, 'final');
    // Not merged into the final response, nor stored with it.
    assert.equal(first.headers['x-hint'], undefined);
    assert.equal(first.headers.link, undefined);

    const hit = await get(f.proxy.port, path);
    assert.deepEqual(hit.order, ['200']);
    assert.match(String(hit.headers['cache-status']), /; hit;/);
    assert.equal(hit.headers['x-hint'], undefined);
    assert.equal(f.origin.count(path), 1);
  });

  it("a second request to the origin gets the origin's own 103, not the first one", async () => {
    const path = uniquePath('early-hints-miss');
    let n = 0;
    f.origin.handle(path, (_req, res) => {
      n++;
      res.writeEarlyHints({ link: `</app-${n}.js>; rel=preload; as=script` });
      res.writeHead(200, { 'cache-control': 'no-store' });
      res.end(`body ${n}`);
    });
    const a = await get(f.proxy.port, path);
    const b = await get(f.proxy.port, path);
    assert.deepEqual(a.interim.map((i) => i.headers.link), ['</app-1.js>; rel=preload; as=script']);
    assert.deepEqual(b.interim.map((i) => i.headers.link), ['</app-2.js>; rel=preload; as=script']);
    assert.equal(b.body, 'body 2');
    assert.equal(f.origin.count(path), 2);
  });

  it('102 Processing is forwarded; several interim responses arrive in order before the final one', async () => {
    const path = uniquePath('processing');
    f.origin.handle(path, (_req, res) => {
      res.writeProcessing();
      res.writeEarlyHints({ link: '</a.css>; rel=preload; as=style' });
      res.writeHead(200, { 'cache-control': 'max-age=60' });
      res.end('done');
    });
    const r = await get(f.proxy.port, path);
    assert.deepEqual(r.order, ['102', '103', '200']);
    assert.equal(r.body, 'done');
  });
});
