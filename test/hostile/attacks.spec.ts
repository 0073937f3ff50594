// The hostile suite: what an attacker who has read the request-smuggling and cache-poisoning
// research would try, against a raw-socket origin that records every byte it receives. Seeded
// and bounded: the same inputs on every run, a fixed count, a time limit per input.
import assert from 'node:assert/strict';
import { createServer, Server, Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { uniquePath } from '../support/fixture';
import { prng, rawExchange } from '../support/raw';
import { reverseProxy, TestProxy } from '../support/tiercel';



/**
 * An origin speaking HTTP by hand: it records every byte received, answers each request line
 * with a scripted raw response (by path), and never parses leniently on Tiercel's behalf.
 */
interface RawOrigin { port: number; received: () => string; answers: Map<string, string>; close(): Promise<void> }
async function rawOrigin(): Promise<RawOrigin> {
  let received = '';
  const answers = new Map<string, string>();
  const sockets = new Set<Socket>();
  const server: Server = createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
    let buf = '';
    s.on('data', (d) => {
      received += d.toString('latin1');
      buf += d.toString('latin1');
      for (;;) {
        const end = buf.indexOf('\r\n\r\n');
        if (end === -1) return;
        const head = buf.slice(0, end);
        buf = buf.slice(end + 4);
        const cl = /\r\ncontent-length:\s*(\d+)/i.exec(head);
        if (cl) buf = buf.slice(Number(cl[1]));
        const path = head.split(' ')[1] ?? '';
        const answer = answers.get(path.replace(/\?.*/, '')) ?? 'HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncache-control: max-age=60\r\n\r\nok';
        s.write(answer);
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    received: () => received,
    answers,
    close: () => new Promise<void>((r) => { for (const s of sockets) s.destroy(); server.close(() => r()); }),
  };
}

describe('hostile suite', () => {
  let origin: RawOrigin;
  let proxy: TestProxy;
  before(async () => {
    origin = await rawOrigin();
    proxy = await reverseProxy(`http://127.0.0.1:${origin.port}`, { UPSTREAM_TIMEOUT: '2s' });
  });
  after(async () => {
    await proxy?.close();
    await origin?.close();
  });

  // Each attempt hides a second request, for /smuggled, inside the first one's framing.
  const SMUGGLE = 'GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n';
  const ATTEMPTS: [string, string][] = [
    ['CL.TE', `POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n${SMUGGLE}`],
    ['TE.CL', `POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n${(SMUGGLE.length + 2).toString(16)}\r\n${SMUGGLE}\r\n0\r\n\r\n`],
    ['two Content-Lengths', `POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nContent-Length: ${SMUGGLE.length}\r\n\r\n${SMUGGLE}`],
    ['obfuscated TE', `POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\nContent-Length: 4\r\n\r\n0\r\n\r\n${SMUGGLE}`],
    ['TE with a space before the colon', `POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n${SMUGGLE}`],
    ['TE folded (obs-fold)', `POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n${SMUGGLE}`],
    ['chunked, identity', `POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n${SMUGGLE}`],
    ['a chunk size that overflows', `POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff1\r\nx\r\n0\r\n\r\n${SMUGGLE}`],
    ['a bare LF in the request line', `GET /a HTTP/1.1\nHost: x\n\n${SMUGGLE}`],
    ['a NUL in a header value', `GET /a HTTP/1.1\r\nHost: x\r\nX-A: a\u0000b\r\n\r\n${SMUGGLE}`],
  ];
  for (const [name, bytes] of ATTEMPTS) {
    it(`smuggling by ${name}: the hidden request never reaches the origin as a request of its own`, async () => {
      const before = origin.received().length;
      const answer = await rawExchange(proxy.port, bytes);
      const seen = origin.received().slice(before);
      assert.doesNotMatch(seen, /(^|\r\n)GET \/smuggled /, `the origin received a smuggled request:\n${seen}`);
      // Tiercel answers the client's first request, or refuses it; it never answers twice for one message.
      assert.ok(answer === '' || /^HTTP\/1\.1 \d{3} /.test(answer), answer.slice(0, 80));
    });
  }

  it('an origin that sends both Content-Length and Transfer-Encoding is refused, nothing stored', async () => {
    const path = uniquePath('origin-clte');
    origin.answers.set(path, 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\ncache-control: max-age=60\r\n\r\n5\r\nhello\r\n0\r\n\r\n');
    const first = await proxy.get(path).catch((e: Error) => ({ status: 0, body: e.message, headers: {} }));
    assert.notEqual(first.status, 200);
    const second = await proxy.get(path).catch((e: Error) => ({ status: 0, body: e.message, headers: {} }));
    assert.doesNotMatch(String((second.headers as Record<string, unknown>)['cache-status'] ?? ''), /; hit/);
  });

  it('an origin whose header carries a CR inside a value is refused, not relayed', async () => {
    const path = uniquePath('origin-cr');
    origin.answers.set(path, 'HTTP/1.1 200 OK\r\nX-Evil: a\rSet-Cookie: stolen=1\r\nContent-Length: 2\r\n\r\nok');
    const r = await proxy.get(path).catch((e: Error) => ({ status: 0, body: e.message, headers: {} as Record<string, unknown> }));
    assert.equal(r.headers['set-cookie'], undefined);
  });

  it('an origin that floods 2,000 interim 103s before its answer: one final answer, stored without them, and the proxy goes on', async () => {
    const path = uniquePath('origin-1xx-flood');
    const hint = 'HTTP/1.1 103 Early Hints\r\nLink: </evil.css>; rel=preload\r\nX-Interim: 1\r\n\r\n';
    origin.answers.set(path, hint.repeat(2000) + 'HTTP/1.1 200 OK\r\ncontent-length: 5\r\ncache-control: max-age=60\r\n\r\nfinal');
    const started = Date.now();
    const first = await proxy.get(path);
    assert.equal(first.status, 200);
    assert.equal(first.body, 'final');
    assert.ok(Date.now() - started < 5000, `took ${Date.now() - started} ms`);
    const second = await proxy.get(path);
    assert.match(String(second.headers['cache-status']), /; hit/);
    assert.equal(second.headers['x-interim'], undefined, 'no interim field merged into the stored answer');
    assert.equal(second.headers.link, undefined);
    assert.equal((await proxy.get(uniquePath('after-1xx-flood'))).status, 200);
  });

  it('an origin that answers a GET with 101 Switching Protocols gets no tunnel, nothing is stored, and the proxy goes on', async () => {
    const path = uniquePath('origin-101');
    origin.answers.set(path, 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: evil\r\nConnection: upgrade\r\n\r\nRAW BYTES FROM THE ORIGIN');
    const r = await proxy.get(path).catch((e: Error) => ({ status: 0, body: e.message, headers: {} as Record<string, unknown> }));
    assert.notEqual(r.status, 101);
    assert.doesNotMatch(String(r.body), /RAW BYTES/);
    const again = await proxy.get(path).catch((e: Error) => ({ status: 0, body: e.message, headers: {} as Record<string, unknown> }));
    assert.doesNotMatch(String(again.headers['cache-status'] ?? ''), /; hit/);
    assert.equal((await proxy.get(uniquePath('after-101'))).status, 200);
  });

  it('a private answer or one that sets a cookie is never served to another client', async () => {
    const privatePath = uniquePath('private');
    const cookiePath = uniquePath('cookie');
    origin.answers.set(privatePath, 'HTTP/1.1 200 OK\r\ncache-control: private, max-age=600\r\ncontent-length: 5\r\n\r\nalice');
    origin.answers.set(cookiePath, 'HTTP/1.1 200 OK\r\ncache-control: max-age=600\r\nset-cookie: session=alice\r\ncontent-length: 5\r\n\r\nalice');
    for (const path of [privatePath, cookiePath]) {
      await proxy.get(path, { headers: { cookie: 'session=alice' } });
      const before = origin.received().length;
      const other = await proxy.get(path);
      assert.doesNotMatch(String(other.headers['cache-status']), /; hit/);
      assert.ok(origin.received().length > before, `${path} was not fetched again for the other client`);
    }
  });

  it('1,000 seeded malformed requests: every answer is a status line or a closed connection, and the proxy goes on serving', async () => {
    const random = prng(0x7e1ce1);
    const pieces = ['GET', 'POST', 'HEAD', 'PURGE', ' ', '  ', '/', '/a', '*', 'http://x/', 'HTTP/1.1', 'HTTP/1.0', 'HTTP/9.9', 'HTTP/0.9', '\r\n', '\n', '\r', ':',
      'Host: x', 'Host:', 'Host: a/b', 'Content-Length: 5', 'Content-Length: -1', 'Content-Length: 99999999999999999999', 'Transfer-Encoding: chunked', '0\r\n\r\n', 'ffff\r\n',
      'Connection: x-tenant', 'Cache-Control: max-age=0, no-cache, only-if-cached', 'Range: bytes=0-', 'Range: bytes=9-1', 'If-None-Match: *', 'Vary: *', '\u0000', '\u00ff', '\t', 'x'.repeat(300)];
    const started = Date.now();
    for (let i = 0; i < 1000 && Date.now() - started < 60_000; i++) {
      let input = '';
      const n = 3 + Math.floor(random() * 12);
      for (let k = 0; k < n; k++) input += pieces[Math.floor(random() * pieces.length)];
      const answer = await rawExchange(proxy.port, Buffer.from(input, 'latin1'), 300);
      assert.ok(answer === '' || /^HTTP\/1\.1 \d{3} /.test(answer), `input ${i} ${JSON.stringify(input)} got ${JSON.stringify(answer.slice(0, 60))}`);
    }
    const ok = await proxy.get(uniquePath('after-fuzz'));
    assert.equal(ok.status, 200);
  });
});
