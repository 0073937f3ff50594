import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { sleep } from '../support/client';
import { uniquePath, useReverseProxy } from '../support/fixture';

describe('admin port', () => {
  const f = useReverseProxy();

  it('/healthz answers 200', async () => {
    const r = await f.proxy.admin('/healthz');
    assert.equal(r.status, 200);
    assert.deepEqual(JSON.parse(r.body), { status: 'ok' });
  });

  it('/readyz answers 200 while the data port accepts requests', async () => {
    const r = await f.proxy.admin('/readyz');
    assert.equal(r.status, 200);
    assert.equal(JSON.parse(r.body).status, 'ready');
  });

  it('the admin paths are not served on the data port', async () => {
    f.origin.handle('/stats', (_req, res) => void res.writeHead(200).end('origin stats'));
    const r = await f.proxy.get('/stats');
    assert.equal(r.body, 'origin stats');
  });

  it('/stats counts misses, hits, L1 entries and bytes, and the hit rate', async () => {
    const s0 = await f.proxy.stats();
    for (const k of ['hits', 'misses', 'l1Hits', 'l2Hits', 'hitRate', 'coalesced']) assert.equal(typeof s0[k], 'number', k);
    assert.equal(typeof s0.l1, 'object');
    for (const k of ['entries', 'bytes', 'evictions']) assert.equal(typeof s0.l1[k], 'number', `l1.${k}`);

    const path = uniquePath('stats');
    f.origin.handle(path, (_req, res) => {
      res.writeHead(200, { 'cache-control': 'max-age=60' });
      res.end('x'.repeat(1000));
    });
    await f.proxy.get(path); // miss, stored
    await f.proxy.get(path); // hit
    await f.proxy.get(path); // hit
    const s1 = await f.proxy.stats();
    assert.equal(s1.misses - s0.misses, 1);
    assert.equal(s1.hits - s0.hits, 2);
    assert.equal(s1.l1Hits - s0.l1Hits, 2);
    assert.equal(s1.l2Hits, 0);
    assert.equal(s1.hitRate, Number((s1.hits / (s1.hits + s1.misses)).toFixed(4)));
    assert.equal(s1.l1.entries - s0.l1.entries, 1);
    assert.ok(s1.l1.bytes - s0.l1.bytes >= 1000, `bytes grew by ${s1.l1.bytes - s0.l1.bytes}`);
    assert.equal(s1.l1.evictions, 0);
    assert.equal(f.origin.count(path), 1);
  });

  it('/stats counts coalesced requests', async () => {
    const path = uniquePath('stats-coalesced');
    f.origin.handle(path, async (_req, res) => {
      await sleep(200);
      res.writeHead(200, { 'cache-control': 'max-age=60' });
      res.end('slow');
    });
    const s0 = await f.proxy.stats();
    await Promise.all(Array.from({ length: 5 }, () => f.proxy.get(path)));
    const s1 = await f.proxy.stats();
    assert.equal(s1.coalesced - s0.coalesced, 4);
    assert.equal(s1.misses - s0.misses, 5);
    assert.equal(f.origin.count(path), 1);
  });
});

describe('admin port: L1 evictions', () => {
  const f = useReverseProxy({ CACHE_SIZE_MB: '1', CACHE_MAX_OBJECT_SIZE: '600k' });

  it('/stats counts evictions when L1 is full', async () => {
    const s0 = await f.proxy.stats();
    assert.equal(s0.l1.evictions, 0);
    assert.equal(s0.l1.capacityBytes, 1024 * 1024);
    const paths = [uniquePath('big-a'), uniquePath('big-b'), uniquePath('big-c')];
    for (const p of paths) {
      f.origin.handle(p, (_req, res) => {
        res.writeHead(200, { 'cache-control': 'max-age=60' });
        res.end('b'.repeat(400 * 1024));
      });
      await f.proxy.get(p);
    }
    const s1 = await f.proxy.stats();
    assert.equal(s1.l1.evictions, 1);
    assert.equal(s1.l1.entries, 2);
    assert.ok(s1.l1.bytes <= 1024 * 1024);
    // The oldest went first.
    await f.proxy.get(paths[0]!);
    assert.equal(f.origin.count(paths[0]!), 2);
    await f.proxy.get(paths[2]!);
    assert.equal(f.origin.count(paths[2]!), 1);
  });
});
