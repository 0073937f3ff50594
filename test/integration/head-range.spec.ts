import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { cacheStatus, countMethod, uniquePath, useReverseProxy } from '../support/fixture';
import type { TestOrigin } from '../support/origin';

const BODY = '0123456789abcdefghijklmnopqrstuvwxyz'; // 36 bytes

/** A route that stores BODY, and answers Range itself (as a real origin would) with a 206. */
function rangeOrigin(origin: TestOrigin, path: string): void {
  origin.handle(path, (req, res) => {
    const range = /^bytes=(\d+)-(\d+)$/.exec(String(req.headers.range ?? ''));
    if (range) {
      const start = Number(range[1]);
      const end = Number(range[2]);
      res.writeHead(206, { 'cache-control': 'max-age=60', 'content-range': `bytes ${start}-${end}/${BODY.length}`, etag: '"b"' });
      return void res.end(BODY.slice(start, end + 1));
    }
    res.writeHead(200, { 'cache-control': 'max-age=60', etag: '"b"', 'content-type': 'text/plain', 'accept-ranges': 'bytes' });
    res.end(req.method === 'HEAD' ? undefined : BODY);
  });
}

describe('HEAD and Range', () => {
  const f = useReverseProxy();

  it('HEAD is answered from a stored GET: no origin request, no body, same Content-Length', async () => {
    const path = uniquePath('head-from-get');
    rangeOrigin(f.origin, path);
    const get = await f.proxy.get(path);
    assert.equal(get.status, 200);
    const head = await f.proxy.get(path, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.body, '');
    assert.equal(head.headers['content-length'], String(BODY.length));
    assert.equal(head.headers['content-type'], 'text/plain');
    assert.equal(head.headers.etag, '"b"');
    assert.match(cacheStatus(head), /; hit; detail=l1/);
    assert.equal(countMethod(f.origin, path, 'HEAD'), 0);
    assert.equal(f.origin.count(path), 1);
  });

  it('HEAD on a miss goes to the origin as HEAD and stores nothing', async () => {
    const path = uniquePath('head-miss');
    rangeOrigin(f.origin, path);
    const head = await f.proxy.get(path, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.body, '');
    assert.doesNotMatch(cacheStatus(head), /stored/);
    assert.equal(countMethod(f.origin, path, 'HEAD'), 1);
    const get = await f.proxy.get(path);
    assert.equal(get.body, BODY);
    assert.match(cacheStatus(get), /fwd=uri-miss/);
    assert.equal(countMethod(f.origin, path, 'GET'), 1);
  });

  it('Range on a stored object: 206 with Content-Range and the right slice', async () => {
    const path = uniquePath('range-hit');
    rangeOrigin(f.origin, path);
    await f.proxy.get(path);
    const r = await f.proxy.get(path, { headers: { range: 'bytes=2-5' } });
    assert.equal(r.status, 206);
    assert.equal(r.body, '2345');
    assert.equal(r.headers['content-range'], `bytes 2-5/${BODY.length}`);
    assert.equal(r.headers['content-length'], '4');
    assert.equal(r.headers.etag, '"b"');
    assert.match(cacheStatus(r), /; hit; detail=l1/);

    const open = await f.proxy.get(path, { headers: { range: 'bytes=30-' } });
    assert.equal(open.status, 206);
    assert.equal(open.body, 'uvwxyz');
    assert.equal(open.headers['content-range'], `bytes 30-35/${BODY.length}`);

    const past = await f.proxy.get(path, { headers: { range: 'bytes=34-100' } });
    assert.equal(past.status, 206);
    assert.equal(past.body, 'yz');
    assert.equal(past.headers['content-range'], `bytes 34-35/${BODY.length}`);
    assert.equal(f.origin.count(path), 1);
  });

  it('a suffix range returns the last bytes', async () => {
    const path = uniquePath('range-suffix');
    rangeOrigin(f.origin, path);
    await f.proxy.get(path);
    const r = await f.proxy.get(path, { headers: { range: 'bytes=-4' } });
    assert.equal(r.status, 206);
    assert.equal(r.body, 'wxyz');
    assert.equal(r.headers['content-range'], `bytes 32-35/${BODY.length}`);
    assert.equal(r.headers['content-length'], '4');
    const all = await f.proxy.get(path, { headers: { range: 'bytes=-1000' } });
    assert.equal(all.status, 206);
    assert.equal(all.body, BODY);
    assert.equal(all.headers['content-range'], `bytes 0-35/${BODY.length}`);
    assert.equal(f.origin.count(path), 1);
  });

  it('an unsatisfiable range answers 416 with Content-Range bytes */length', async () => {
    const path = uniquePath('range-416');
    rangeOrigin(f.origin, path);
    await f.proxy.get(path);
    const r = await f.proxy.get(path, { headers: { range: 'bytes=100-200' } });
    assert.equal(r.status, 416);
    assert.equal(r.body, '');
    assert.equal(r.headers['content-range'], `bytes */${BODY.length}`);
    assert.ok(cacheStatus(r).startsWith('tiercel; '));
    assert.equal(f.origin.count(path), 1);
  });

  it('If-Range with a non-matching validator gets the whole object', async () => {
    const path = uniquePath('range-if-range');
    rangeOrigin(f.origin, path);
    await f.proxy.get(path);
    const r = await f.proxy.get(path, { headers: { range: 'bytes=0-1', 'if-range': '"other"' } });
    assert.equal(r.status, 200);
    assert.equal(r.body, BODY);
    const ok = await f.proxy.get(path, { headers: { range: 'bytes=0-1', 'if-range': '"b"' } });
    assert.equal(ok.status, 206);
    assert.equal(ok.body, '01');
    assert.equal(f.origin.count(path), 1);
  });

  it('Range on a miss goes to the origin as sent; its 206 is stored as a part, never used for a whole GET', async () => {
    const path = uniquePath('range-miss');
    rangeOrigin(f.origin, path);
    const first = await f.proxy.get(path, { headers: { range: 'bytes=0-3' } });
    assert.equal(first.status, 206);
    assert.equal(first.body, '0123');
    assert.equal(first.headers['content-range'], `bytes 0-3/${BODY.length}`);
    assert.match(cacheStatus(first), /; stored; ttl=\d+; detail=range$/);
    assert.equal(f.origin.requests.at(-1)!.headers.range, 'bytes=0-3');

    // RFC 9111 §3.3: the same range is within the stored part.
    const again = await f.proxy.get(path, { headers: { range: 'bytes=0-3' } });
    assert.equal(again.status, 206);
    assert.equal(again.body, '0123');
    assert.match(cacheStatus(again), /; hit;/);
    assert.equal(f.origin.count(path), 1);
    // A plain GET is not answered with the stored part.
    const full = await f.proxy.get(path);
    assert.equal(full.status, 200);
    assert.equal(full.body, BODY);
    assert.match(cacheStatus(full), /fwd=uri-miss/);
    assert.equal(f.origin.count(path), 2);
  });
});
