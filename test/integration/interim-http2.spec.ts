// Interim responses to a client on HTTP/2 (TLS_PORT, ALPN h2): the origin's 103 and 102 reach the
// client on its stream as they arrive, before the final response, and are never stored or replayed.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { connect, ClientHttp2Session, IncomingHttpHeaders } from 'node:http2';
import { after, before, describe, test } from 'node:test';
import { startOrigin, TestOrigin } from '../support/origin';
import { startProxy, TestProxy } from '../support/tiercel';
import { makeCa, makeLeaf, Pki, tempDir } from '../support/tls';
import { uniquePath } from '../support/fixture';

interface H2Exchange { order: string[]; interim: IncomingHttpHeaders[]; headers: IncomingHttpHeaders; body: string; at: { interim: number[]; final: number } }

/** One GET on an HTTP/2 session, recording every interim header block ('headers' event) and the final one, in order. */
function get(session: ClientHttp2Session, path: string): Promise<H2Exchange> {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const out: H2Exchange = { order: [], interim: [], headers: {}, body: '', at: { interim: [], final: 0 } };
    const stream = session.request({ ':method': 'GET', ':path': path });
    stream.on('headers', (h) => {
      out.interim.push(h);
      out.order.push(String(h[':status']));
      out.at.interim.push(Date.now() - t0);
    });
    stream.on('response', (h) => {
      out.headers = h;
      out.order.push(String(h[':status']));
      out.at.final = Date.now() - t0;
    });
    stream.setEncoding('utf8');
    stream.on('data', (c: string) => (out.body += c));
    stream.on('end', () => resolve(out));
    stream.on('error', reject);
    stream.setTimeout(5000, () => stream.close());
    stream.end();
  });
}

describe('interim responses over HTTP/2 on TLS_PORT (RFC 9110 §15.2, RFC 9113 §8.1)', () => {
  let pki: Pki;
  let origin: TestOrigin;
  let proxy: TestProxy;
  let session: ClientHttp2Session;

  before(async () => {
    pki = await makeCa(tempDir(), 'H2 Interim CA');
    const files = await makeLeaf(pki, 'tiercel-h2-interim');
    origin = await startOrigin();
    proxy = await startProxy({ UPSTREAM_URL: origin.url, TLS_PORT: '0', TLS_CERT: files.cert, TLS_KEY: files.key });
    session = connect(`https://localhost:${proxy.tiercel.tlsPort}`, { ca: readFileSync(pki.caCert) });
    await new Promise<void>((resolve, reject) => session.once('connect', () => resolve()).once('error', reject));
    assert.equal(session.alpnProtocol, 'h2');
  });
  after(async () => {
    session?.close();
    await proxy?.close();
    await origin?.close();
  });

  test('the client sees the origin 103 (its Link) as it arrives, then the 200; the hit that follows carries no 103', async () => {
    const path = uniquePath('h2-early-hints');
    let n = 0;
    origin.handle(path, (_req, res) => {
      n++;
      res.writeEarlyHints({ link: `</style-${n}.css>; rel=preload; as=style`, 'x-hint': `h${n}` });
      // The final response comes later: the 103 must reach the client before it exists.
      setTimeout(() => {
        res.writeHead(200, { 'cache-control': 'max-age=60', 'content-type': 'text/plain' });
        res.end('final');
      }, 300);
    });
    const first = await get(session, path);
    assert.deepEqual(first.order, ['103', '200']);
    assert.equal(first.interim[0]!.link, '</style-1.css>; rel=preload; as=style');
    assert.equal(first.interim[0]!['x-hint'], 'h1');
    assert.ok(first.at.final - first.at.interim[0]! >= 150, `103 at ${first.at.interim[0]} ms, 200 at ${first.at.final} ms: the 103 waited for the final response`);
    assert.equal(first.body, 'final');
    // Not merged into the final response.
    assert.equal(first.headers.link, undefined);
    assert.equal(first.headers['x-hint'], undefined);

    const hit = await get(session, path);
    assert.deepEqual(hit.order, ['200']);
    assert.match(String(hit.headers['cache-status']), /; hit/);
    assert.equal(hit.headers.link, undefined);
    assert.equal(hit.body, 'final');
    assert.equal(origin.count(path), 1);
  });

  test("a request that reaches the origin again gets the origin's own 103, not the first one", async () => {
    const path = uniquePath('h2-early-hints-miss');
    let n = 0;
    origin.handle(path, (_req, res) => {
      n++;
      res.writeEarlyHints({ link: `</app-${n}.js>; rel=preload; as=script` });
      res.writeHead(200, { 'cache-control': 'no-store' });
      res.end(`body ${n}`);
    });
    const a = await get(session, path);
    const b = await get(session, path);
    assert.deepEqual(a.interim.map((h) => h.link), ['</app-1.js>; rel=preload; as=script']);
    assert.deepEqual(b.interim.map((h) => h.link), ['</app-2.js>; rel=preload; as=script']);
    assert.deepEqual(b.order, ['103', '200']);
    assert.equal(b.body, 'body 2');
    assert.equal(origin.count(path), 2);
  });

  test('102 Processing is forwarded on the stream; several interim responses arrive in order before the final one', async () => {
    const path = uniquePath('h2-processing');
    origin.handle(path, (_req, res) => {
      res.writeProcessing();
      res.writeEarlyHints({ link: '</a.css>; rel=preload; as=style' });
      res.writeHead(200, { 'cache-control': 'max-age=60' });
      res.end('done');
    });
    const r = await get(session, path);
    assert.deepEqual(r.order, ['102', '103', '200']);
    assert.equal(r.interim[1]!.link, '</a.css>; rel=preload; as=style');
    assert.equal(r.body, 'done');
  });

  test("a client that resets its stream after the first 103 gets nothing more on it, and its session carries on", async () => {
    const path = uniquePath('h2-interim-reset');
    let finished!: () => void;
    const originDone = new Promise<void>((r) => (finished = r));
    origin.handle(path, (_req, res) => {
      res.writeEarlyHints({ link: '</first.css>; rel=preload; as=style' });
      setTimeout(() => {
        res.writeProcessing();
        res.writeEarlyHints({ link: '</late.css>; rel=preload; as=style' });
        res.writeHead(200, { 'cache-control': 'no-store' });
        res.end('late');
        finished();
      }, 200);
    });
    const seen: string[] = [];
    await new Promise<void>((resolve) => {
      const stream = session.request({ ':method': 'GET', ':path': path });
      stream.on('headers', (h) => {
        seen.push(String(h[':status']));
        stream.close(0x8); // RST_STREAM CANCEL (RFC 9113 §7)
      });
      stream.on('close', () => resolve());
      stream.on('error', () => undefined);
      stream.end();
    });
    assert.deepEqual(seen, ['103']);
    await originDone;
    const after = uniquePath('h2-after-reset');
    origin.handle(after, (_req, res) => void res.writeHead(200, { 'cache-control': 'no-store' }).end('still here'));
    const r = await get(session, after);
    assert.deepEqual(r.order, ['200']);
    assert.equal(r.body, 'still here');
  });
});
