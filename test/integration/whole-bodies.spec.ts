import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { sleep } from '../support/client';
import { cacheStatus, sendLenient, uniquePath, useReverseProxy } from '../support/fixture';

describe('only whole bodies are stored', () => {
  const f = useReverseProxy({ CACHE_MAX_OBJECT_SIZE: '1k' });

  it('a body shorter than its Content-Length (origin closes early) is not stored', async () => {
    const path = uniquePath('short-body');
    let n = 0;
    f.origin.handle(path, async (req, res) => {
      n++;
      res.writeHead(200, { 'cache-control': 'max-age=60', 'content-length': '100' });
      res.write('x'.repeat(50));
      await sleep(30);
      req.socket.destroySoon();
    });
    const first = await sendLenient(f.proxy.port, path);
    assert.equal(first.status, 200);
    assert.equal(first.complete, false, 'the client must see the response cut short');
    assert.equal(first.body.length, 50);
    await sleep(30);
    const second = await sendLenient(f.proxy.port, path);
    assert.equal(second.status, 200);
    assert.doesNotMatch(cacheStatus(second), /; hit/);
    assert.equal(f.origin.count(path), 2);
    assert.equal(n, 2);
    const stats = await f.proxy.stats();
    assert.ok(stats.incompleteBodies >= 1, `incompleteBodies ${stats.incompleteBodies}`);
  });

  it('a chunked body cut by the origin destroying its socket is not stored', async () => {
    const path = uniquePath('destroyed-body');
    f.origin.handle(path, async (req, res) => {
      res.writeHead(200, { 'cache-control': 'max-age=60', 'content-type': 'text/plain' });
      res.write('first part;');
      await sleep(30);
      req.socket.destroy();
    });
    const first = await sendLenient(f.proxy.port, path);
    assert.equal(first.status, 200);
    assert.equal(first.complete, false);
    assert.equal(first.body.toString(), 'first part;');
    await sleep(30);
    const second = await sendLenient(f.proxy.port, path);
    assert.doesNotMatch(cacheStatus(second), /; hit/);
    assert.equal(f.origin.count(path), 2);
  });

  it('a body over CACHE_MAX_OBJECT_SIZE (declared length) is delivered in full but not stored', async () => {
    const path = uniquePath('too-large');
    const body = 'L'.repeat(4096);
    f.origin.handle(path, (_req, res) => {
      res.writeHead(200, { 'cache-control': 'max-age=60', 'content-length': String(body.length) });
      res.end(body);
    });
    const first = await f.proxy.get(path);
    assert.equal(first.status, 200);
    assert.equal(first.body, body);
    assert.equal(first.headers['content-length'], '4096');
    assert.match(cacheStatus(first), /; fwd=uri-miss; fwd-status=200; detail=too-large$/);
    const second = await f.proxy.get(path);
    assert.equal(second.body, body);
    assert.doesNotMatch(cacheStatus(second), /; hit/);
    assert.equal(f.origin.count(path), 2);
  });

  it('a chunked body that grows past CACHE_MAX_OBJECT_SIZE is delivered in full but not stored', async () => {
    const path = uniquePath('too-large-chunked');
    f.origin.handle(path, async (_req, res) => {
      res.writeHead(200, { 'cache-control': 'max-age=60' });
      for (let i = 0; i < 8; i++) {
        res.write('C'.repeat(512));
        await sleep(2);
      }
      res.end();
    });
    const first = await f.proxy.get(path);
    assert.equal(first.status, 200);
    assert.equal(first.body, 'C'.repeat(4096));
    const second = await f.proxy.get(path);
    assert.equal(second.body, 'C'.repeat(4096));
    assert.doesNotMatch(cacheStatus(second), /; hit/);
    assert.equal(f.origin.count(path), 2);
  });

  it('a body just under the limit is stored (control)', async () => {
    const path = uniquePath('small-enough');
    f.origin.handle(path, (_req, res) => {
      res.writeHead(200, { 'cache-control': 'max-age=60' });
      res.end('s'.repeat(200));
    });
    await f.proxy.get(path);
    const second = await f.proxy.get(path);
    assert.equal(second.body, 's'.repeat(200));
    assert.match(cacheStatus(second), /; hit/);
    assert.equal(f.origin.count(path), 1);
  });
});
