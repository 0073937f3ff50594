import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { cacheStatus, uniquePath, useReverseProxy } from '../support/fixture';
import { HOST, invalidate, ON_HOST, twoInstances, waitForL2 } from '../support/l2';
import { startOrigin, TestOrigin } from '../support/origin';
import { RedisProcess, startRedis } from '../support/redis';
import type { TestProxy } from '../support/tiercel';
import type Redis from 'ioredis';
import { l2Key } from '../support/l2';

const BODY = '0123456789';

/** An origin that answers single byte ranges of a 10-byte representation, as RFC 9110 §14 says. */
function ranged(etag: string | null) {
  return (req: IncomingMessage, res: ServerResponse) => {
    const base: Record<string, string> = { 'cache-control': 'max-age=60', 'content-type': 'text/plain' };
    if (etag !== null) base.etag = etag;
    const m = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? '');
    if (m === null) {
      res.writeHead(200, base);
      return void res.end(BODY);
    }
    const start = Number(m[1]), end = Math.min(Number(m[2]), BODY.length - 1);
    res.writeHead(206, { ...base, 'content-range': `bytes ${start}-${end}/${BODY.length}` });
    res.end(BODY.slice(start, end + 1));
  };
}

const range = (r: string, extra: Record<string, string> = {}) => ({ headers: { range: `bytes=${r}`, ...extra } });

describe('partial content in L1 (RFC 9111 §3.3, §3.4)', () => {
  const f = useReverseProxy();

  it('stores a 206, serves ranges within it, and combines parts into a whole response', async () => {
    const path = uniquePath('parts');
    f.origin.handle(path, ranged('"r1"'));
    const first = await f.proxy.get(path, range('0-4'));
    assert.equal(first.status, 206);
    assert.equal(first.body, '01234');
    assert.match(cacheStatus(first), /; fwd=uri-miss; fwd-status=206; stored; ttl=60; detail=range$/);

    const within = await f.proxy.get(path, range('1-3'));
    assert.equal(within.status, 206);
    assert.equal(within.body, '123');
    assert.equal(within.headers['content-range'], 'bytes 1-3/10');
    assert.equal(within.headers['content-length'], '3');
    assert.match(cacheStatus(within), /; hit; detail=l1/);
    assert.equal(f.origin.count(path), 1);

    // Beyond the stored part: the origin is asked, and the two parts make the whole.
    const rest = await f.proxy.get(path, range('5-9'));
    assert.equal(rest.body, '56789');
    assert.equal(f.origin.count(path), 2);

    const whole = await f.proxy.get(path);
    assert.equal(whole.status, 200);
    assert.equal(whole.body, BODY);
    assert.equal(whole.headers['content-range'], undefined);
    assert.equal(whole.headers['content-length'], '10');
    assert.match(cacheStatus(whole), /; hit; detail=l1/);
    const mid = await f.proxy.get(path, range('2-7'));
    assert.equal(mid.body, '234567');
    assert.equal(f.origin.count(path), 2);
  });

  it('never answers a whole GET or a range outside the part from a part; never joins parts without a matching strong ETag', async () => {
    const path = uniquePath('parts-no-etag');
    f.origin.handle(path, ranged(null));
    await f.proxy.get(path, range('0-4'));
    const outside = await f.proxy.get(path, range('3-6'));
    assert.equal(outside.body, '3456');
    assert.equal(f.origin.count(path), 2);
    await f.proxy.get(path, range('5-9'));
    const whole = await f.proxy.get(path);
    assert.equal(whole.status, 200);
    assert.equal(whole.body, BODY);
    assert.doesNotMatch(cacheStatus(whole), /; hit/);
    assert.equal(f.origin.count(path), 4);
  });

  it('a multipart/byteranges 206 is passed on, not stored as a part', async () => {
    const path = uniquePath('part-multi');
    f.origin.handle(path, (_req, res) => {
      res.writeHead(206, { 'cache-control': 'max-age=60', 'content-type': 'multipart/byteranges; boundary=B' });
      res.end('--B\r\nContent-Range: bytes 0-1/10\r\n\r\n01\r\n--B\r\nContent-Range: bytes 5-6/10\r\n\r\n56\r\n--B--\r\n');
    });
    const a = await f.proxy.get(path, range('0-1,5-6'));
    assert.equal(a.status, 206);
    assert.doesNotMatch(cacheStatus(a), /stored/);
    await f.proxy.get(path, range('0-1,5-6'));
    assert.equal(f.origin.count(path), 2);
  });

  it('a 206 holding more bytes than its Content-Range names is passed on but not stored', async () => {
    const path = uniquePath('part-lies');
    f.origin.handle(path, (_req, res) => {
      res.writeHead(206, { 'cache-control': 'max-age=60', 'content-range': 'bytes 0-1/10' });
      res.end('0123');
    });
    const a = await f.proxy.get(path, range('0-1'));
    assert.equal(a.body, '0123');
    await f.proxy.get(path, range('0-1'));
    assert.equal(f.origin.count(path), 2);
  });
});

describe('partial content in L2 (a real redis-server)', () => {
  let redis: RedisProcess;
  let client: Redis;
  let origin: TestOrigin;
  let a: TestProxy;
  let b: TestProxy;

  before(async () => {
    redis = await startRedis();
    client = redis.client();
    origin = await startOrigin();
    ({ a, b } = await twoInstances(origin, { REDIS_ENABLED: 'true', REDIS_ADDR: redis.addr }));
  });
  after(async () => {
    await a?.close();
    await b?.close();
    await origin?.close();
    await redis?.stop();
  });

  it('a part stored by A answers B from L2; B combines its own part with it into a whole both share', async () => {
    const path = uniquePath('l2-parts');
    origin.handle(path, ranged('"r2"'));
    const first = await a.get(path, { headers: { ...ON_HOST.headers, range: 'bytes=0-4' } });
    assert.equal(first.body, '01234');
    await waitForL2(client, `${path}#206`);

    const fromL2 = await b.get(path, { headers: { ...ON_HOST.headers, range: 'bytes=2-4' } });
    assert.equal(fromL2.status, 206);
    assert.equal(fromL2.body, '234');
    assert.equal(fromL2.headers['content-range'], 'bytes 2-4/10');
    assert.match(cacheStatus(fromL2), /; hit; detail=l2/);
    assert.equal(origin.count(path), 1);

    const rest = await b.get(path, { headers: { ...ON_HOST.headers, range: 'bytes=5-9' } });
    assert.equal(rest.body, '56789');
    assert.equal(origin.count(path), 2);
    await waitForL2(client, path);
    assert.ok((await client.hlen(l2Key(HOST + path))) >= 1);

    const whole = await a.get(path, ON_HOST);
    assert.equal(whole.status, 200);
    assert.equal(whole.body, BODY);
    assert.match(cacheStatus(whole), /; hit; detail=l2/);
    assert.equal(origin.count(path), 2);
  });

  it('invalidating a URL removes its stored part too, from L2 and from the other instance\'s L1', async () => {
    const path = uniquePath('l2-part-purge');
    origin.handle(path, ranged('"r3"'));
    await a.get(path, { headers: { ...ON_HOST.headers, range: 'bytes=0-4' } });
    await waitForL2(client, `${path}#206`);
    const before = await b.get(path, { headers: { ...ON_HOST.headers, range: 'bytes=0-1' } });
    assert.match(cacheStatus(before), /; hit; detail=l2/);
    const r = await invalidate(a, { urls: [`http://${HOST}${path}`] });
    assert.equal(r.status, 200);
    await new Promise((res) => setTimeout(res, 200));
    // B held the part in its L1 (from the hit) and both share L2: neither may answer from it now.
    const after = await b.get(path, { headers: { ...ON_HOST.headers, range: 'bytes=0-1' } });
    assert.doesNotMatch(cacheStatus(after), /; hit/);
    assert.equal(origin.count(path), 2);
  });
});
