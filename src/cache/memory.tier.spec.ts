import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, it } from 'node:test';
import { parseCacheControl } from '../http-cache/cache-control';
import { CachedResponse, createCachedResponse, deliverySlots, headerBytes } from './cached-response';
import type { VaryIndex } from './vary-index';
import { MemoryTier } from './memory.tier';

const LONG = 60_000;

/** A stored response whose accounted size is exactly `size` bytes. */
function entry(size: number, tag = ''): CachedResponse {
  return {
    kind: 'response', status: 200, headers: ['x-tag', tag], body: Buffer.alloc(0), etag: undefined, lastModified: undefined,
    date: undefined, requestTime: 0, responseTime: 0, initialAgeMs: 0, lifetimeMs: LONG, staleWhileRevalidateMs: 0,
    staleIfErrorMs: 0, noCache: false, forbidStale: false, varyNames: [], tags: [], size,
  };
}

function realResponse(body: string, extraHeaders: Record<string, string> = {}): CachedResponse {
  return createCachedResponse(
    {
      status: 200,
      fields: { 'content-type': 'text/plain', 'cache-control': 'max-age=60', ...extraHeaders },
      body: Buffer.from(body),
      cc: parseCacheControl('max-age=60'),
      freshness: { lifetimeMs: 60_000, source: 'max-age' },
      varyNames: [],
      tags: [],
      requestTime: Date.now(),
      responseTime: Date.now(),
    },
    { via: '1.1 tiercel', slots: deliverySlots({ xCache: true, serverTiming: false }), stripSetCookie: false, stripTags: false },
  );
}

describe('MemoryTier: byte bound', () => {
  it('is named l1 and starts empty', () => {
    const t = new MemoryTier(1000, 1000, LONG);
    assert.equal(t.name, 'l1');
    assert.deepEqual(t.stats(), { entries: 0, bytes: 0, capacityBytes: 1000, evictions: 0 });
  });

  it('accounts each entry by its size', () => {
    const t = new MemoryTier(1000, 1000, LONG);
    t.set('a', '', entry(100), LONG);
    t.set('b', '', entry(250), LONG);
    assert.deepEqual(t.stats(), { entries: 2, bytes: 350, capacityBytes: 1000, evictions: 0 });
  });

  it('counts a stored response by its headers as well as its body', () => {
    const small = realResponse('x');
    const bigHeaders = realResponse('x', { 'x-padding': 'p'.repeat(5000) });
    assert.ok(small.size >= 1 + headerBytes(small.headers), `size ${small.size} leaves out headers`);
    assert.ok(bigHeaders.size - small.size >= 5000, 'a 5000-byte header must count against the size');
    const t = new MemoryTier(1_000_000, 1_000_000, LONG);
    t.set('k', '', bigHeaders, LONG);
    assert.equal(t.stats().bytes, bigHeaders.size);
  });

  it('evicts when headers push the total over capacity even though the bodies fit', () => {
    const a = realResponse('aaaa', { 'x-padding': 'p'.repeat(3000) });
    const b = realResponse('bbbb', { 'x-padding': 'p'.repeat(3000) });
    const t = new MemoryTier(a.size + b.size - 1, a.size + b.size - 1, LONG);
    t.set('a', '', a, LONG);
    t.set('b', '', b, LONG);
    assert.equal(t.get('a'), undefined);
    assert.equal(t.get('b'), b);
    assert.equal(t.stats().evictions, 1);
    assert.ok(t.stats().bytes <= t.stats().capacityBytes);
  });

  it('never exceeds its capacity', () => {
    const t = new MemoryTier(1000, 400, LONG);
    for (let i = 0; i < 50; i++) {
      t.set(`k${i}`, '', entry(50 + (i * 37) % 350), LONG);
      assert.ok(t.stats().bytes <= 1000, `over capacity after ${i}: ${t.stats().bytes}`);
    }
  });

  it('counts the Vary index entries too', () => {
    const t = new MemoryTier(1000, 1000, LONG);
    const index: VaryIndex = { kind: 'vary', names: ['accept'], size: 80 };
    t.set('i', '', index, LONG);
    assert.equal(t.stats().bytes, 80);
    assert.equal(t.get('i'), index);
  });
});

describe('MemoryTier: LRU eviction', () => {
  it('evicts the least recently used entry first, and a get makes an entry recent', () => {
    const t = new MemoryTier(300, 300, LONG);
    const a = entry(100, 'a'), b = entry(100, 'b'), c = entry(100, 'c');
    t.set('a', '', a, LONG);
    t.set('b', '', b, LONG);
    t.set('c', '', c, LONG);
    assert.equal(t.get('a'), a); // a is now most recent; b is least
    t.set('d', '', entry(100, 'd'), LONG);
    assert.equal(t.get('b'), undefined);
    assert.equal(t.get('a'), a);
    assert.equal(t.get('c'), c);
    assert.equal(t.stats().evictions, 1);
    // Order now (oldest first): d, a, c.
    t.set('e', '', entry(100, 'e'), LONG);
    assert.equal(t.get('d'), undefined);
    assert.equal(t.stats().evictions, 2);
  });

  it('evicts as many entries as it takes to fit a large one, counting each', () => {
    const t = new MemoryTier(300, 300, LONG);
    t.set('a', '', entry(100), LONG);
    t.set('b', '', entry(100), LONG);
    t.set('c', '', entry(100), LONG);
    t.set('big', '', entry(250), LONG);
    assert.equal(t.get('a'), undefined);
    assert.equal(t.get('b'), undefined);
    assert.equal(t.get('c'), undefined);
    assert.ok(t.get('big'));
    assert.equal(t.stats().evictions, 3);
    assert.equal(t.stats().bytes, 250);
  });

  it('does not count replacement, delete, expiry or clear as evictions', async () => {
    const t = new MemoryTier(1000, 1000, LONG);
    t.set('a', '', entry(100), LONG);
    t.set('a', '', entry(200), LONG);
    assert.equal(t.stats().bytes, 200);
    assert.equal(t.delete('a'), 1);
    assert.equal(t.delete('a'), 0);
    t.set('b', '', entry(100), 1);
    await sleep(20);
    assert.equal(t.get('b'), undefined);
    t.set('c', '', entry(100), LONG);
    assert.equal(t.clear(), 1);
    assert.equal(t.stats().evictions, 0);
    assert.equal(t.stats().entries, 0);
    assert.equal(t.stats().bytes, 0);
  });
});

describe('MemoryTier: per-object cap', () => {
  it('stores an object of exactly the cap', () => {
    const t = new MemoryTier(1000, 200, LONG);
    const e = entry(200);
    t.set('a', '', e, LONG);
    assert.equal(t.get('a'), e);
  });

  it('refuses an object over the cap without evicting anything', () => {
    const t = new MemoryTier(1000, 200, LONG);
    t.set('a', '', entry(100), LONG);
    t.set('b', '', entry(201), LONG);
    assert.equal(t.get('b'), undefined);
    assert.ok(t.get('a'));
    assert.deepEqual(t.stats(), { entries: 1, bytes: 100, capacityBytes: 1000, evictions: 0 });
  });

  it('applies the cap to headers plus body', () => {
    const r = realResponse('x'.repeat(100), { 'x-padding': 'p'.repeat(500) });
    const t = new MemoryTier(10_000, r.size - 1, LONG);
    t.set('a', '', r, LONG);
    assert.equal(t.get('a'), undefined);
  });

  it('drops the previous object under a key when its replacement is too large', () => {
    const t = new MemoryTier(1000, 200, LONG);
    t.set('a', '', entry(100), LONG);
    t.set('a', '', entry(300), LONG);
    assert.equal(t.get('a'), undefined);
  });
});

describe('MemoryTier: TTL', () => {
  it('serves an entry until its TTL passes, then drops it', async () => {
    const t = new MemoryTier(1000, 1000, LONG);
    const e = entry(100);
    t.set('a', '', e, 40);
    assert.equal(t.get('a'), e);
    await sleep(80);
    assert.equal(t.get('a'), undefined);
    assert.equal(t.stats().entries, 0);
  });

  it('keeps entries with longer TTLs', async () => {
    const t = new MemoryTier(1000, 1000, LONG);
    t.set('short', '', entry(100), 20);
    t.set('long', '', entry(100), LONG);
    await sleep(60);
    assert.equal(t.get('short'), undefined);
    assert.ok(t.get('long'));
  });

  it('does not extend the TTL on read', async () => {
    const t = new MemoryTier(1000, 1000, LONG);
    t.set('a', '', entry(100), 300);
    await sleep(100);
    assert.ok(t.get('a'));
    await sleep(250);
    assert.equal(t.get('a'), undefined);
  });

  it('treats a zero or negative TTL as already expiring, never as no TTL', async () => {
    const t = new MemoryTier(1000, 1000, LONG);
    t.set('zero', '', entry(100), 0);
    t.set('neg', '', entry(100), -500);
    t.set('frac', '', entry(100), 0.2);
    await sleep(20);
    assert.equal(t.get('zero'), undefined);
    assert.equal(t.get('neg'), undefined);
    assert.equal(t.get('frac'), undefined);
  });

  it('resets the TTL when an entry is replaced', async () => {
    const t = new MemoryTier(1000, 1000, LONG);
    t.set('a', '', entry(100), 30);
    t.set('a', '', entry(100), LONG);
    await sleep(60);
    assert.ok(t.get('a'));
  });
});
