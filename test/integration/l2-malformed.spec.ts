// Anyone who can write to Redis can write under Tiercel's keys. An entry that is not one
// Tiercel wrote, whatever it holds, is a miss: answered promptly from the origin, deleted,
// counted; never a hang, a 500 or a cut response.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { uniquePath } from '../support/fixture';
import { keyOf, ON_HOST, sleep } from '../support/l2';
import { startOrigin, TestOrigin } from '../support/origin';
import { RedisProcess, startRedis } from '../support/redis';
import { reverseProxy, TestProxy } from '../support/tiercel';

/** An entry in the documented L2 format: 'TC', version 1, kind, header length, reserved, JSON header, body. */
function entry(meta: unknown, body = Buffer.alloc(0), kind = 1): Buffer {
  const json = Buffer.from(JSON.stringify(meta));
  const out = Buffer.alloc(12 + json.length + body.length);
  out.write('TC', 0, 'latin1');
  out[2] = 1;
  out[3] = kind;
  out.writeUInt32BE(json.length, 4);
  json.copy(out, 12);
  body.copy(out, 12 + json.length);
  return out;
}

const now = Date.now();
function response(over: Record<string, unknown>, body = 'poisoned'): Buffer {
  const meta = {
    s: 200, h: ['content-type', 'text/plain', 'content-length', String(Buffer.byteLength(body))],
    rq: now, rs: now, ia: 0, lt: 600_000, swr: 0, sie: 0, nc: 0, fs: 0, v: [], t: [], ...over,
  };
  return entry(meta, Buffer.from(body));
}

const CASES: [string, Buffer][] = [
  ['status 99', response({ s: 99 })],
  ['status 1000', response({ s: 1000 })],
  ['a fractional status', response({ s: 200.5 })],
  ['an odd-length header list', response({ h: ['content-type', 'text/plain', 'content-length'] })],
  ['a non-string header value', response({ h: ['content-type', 42, 'content-length', '8'] })],
  ['CR LF in a header value', response({ h: ['x-evil', 'a\r\nset-cookie: stolen=1', 'content-length', '8'] })],
  ['an invalid header name', response({ h: ['bad name', 'x', 'content-length', '8'] })],
  ['a NUL in a header value', response({ h: ['x-evil', 'a\u0000b', 'content-length', '8'] })],
  ['a body shorter than its Content-Length', response({ h: ['content-type', 'text/plain', 'content-length', '1000'] })],
  ['no Content-Length', response({ h: ['content-type', 'text/plain'] })],
  ['JSON null', entry(null)],
  ['a JSON array', entry([1, 2, 3])],
  ['a header list that is a string', response({ h: 'content-length: 8' })],
  ['times that are strings', response({ rs: 'yesterday' })],
  ['a Vary index naming nothing valid', entry({ n: ['bad name'] }, Buffer.alloc(0), 2)],
  ['an unknown kind', entry({ n: ['accept'] }, Buffer.alloc(0), 9)],
  ['a truncated prefix', Buffer.from('TC\u0001')],
  ['random bytes', Buffer.from('not an entry at all, just bytes')],
];

describe('malformed L2 entries', () => {
  let redis: RedisProcess;
  let origin: TestOrigin;
  let proxy: TestProxy;

  before(async () => {
    redis = await startRedis();
    origin = await startOrigin();
    proxy = await reverseProxy(origin.url, { REDIS_ENABLED: 'true', REDIS_ADDR: redis.addr });
  });
  after(async () => {
    await proxy?.close();
    await origin?.close();
    await redis?.stop();
  });

  for (const [name, value] of CASES) {
    it(`${name}: a prompt miss from the origin, and the entry is gone`, async () => {
      const path = uniquePath('malformed');
      origin.handle(path, (_req, res) => {
        res.writeHead(200, { 'content-type': 'text/plain', 'cache-control': 'max-age=60' });
        res.end('from the origin');
      });
      const probe = redis.client();
      await probe.hset(keyOf(path), '', value);
      const before = await proxy.stats();
      const r = await proxy.get(path, { ...ON_HOST, timeoutMs: 3000 });
      assert.equal(r.status, 200);
      assert.equal(r.body, 'from the origin');
      assert.equal(r.headers['set-cookie'], undefined);
      assert.match(String(r.headers['cache-status']), /fwd=uri-miss/);
      assert.ok(r.ms < 2000, `answered in ${r.ms.toFixed(0)} ms`);
      assert.equal(origin.count(path), 1);
      const after = await proxy.stats();
      assert.equal(after.l2.invalid - before.l2.invalid, 1, 'counted as invalid');
      // The fill replaced it with a well-formed entry, which another instance could serve.
      for (let i = 0; i < 100; i++) {
        const stored = await probe.hgetBuffer(keyOf(path), '');
        if (stored !== null && stored.includes(Buffer.from('from the origin'))) break;
        if (i === 99) throw new Error('the garbage entry was not replaced');
        await sleep(20);
      }
      probe.disconnect();
    });
  }
});
