import assert from 'node:assert/strict';
import type { IncomingHttpHeaders } from 'node:http';
import { describe, it } from 'node:test';
import { parseVary, varySelector } from '../http-cache/vary';
import { MAX_VARIANTS_PER_URL } from './cache-entry';
import type { CachedResponse } from './cached-response';
import { emptyLookup, LookupOutcome, TieredCache } from './tiered-cache';
import { MemoryTier } from './memory.tier';

const MAX_AGE = 300_000;
const URL_KEY = 'origin.example/page';

function response(vary: string | undefined, tag: string, over: Partial<CachedResponse> = {}): CachedResponse {
  return {
    kind: 'response', status: 200, headers: ['x-tag', tag], body: Buffer.from(tag), etag: undefined, lastModified: undefined,
    date: undefined, requestTime: 0, responseTime: 0, initialAgeMs: 0, lifetimeMs: 60_000, staleWhileRevalidateMs: 0,
    staleIfErrorMs: 0, noCache: false, forbidStale: false, varyNames: parseVary(vary).names, tags: [], size: 100, ...over,
  };
}

function setup(capacity = 1_000_000): { l1: MemoryTier; cache: TieredCache } {
  const l1 = new MemoryTier(capacity, capacity, MAX_AGE);
  return { l1, cache: new TieredCache([l1]) };
}

function lookup(cache: TieredCache, headers: IncomingHttpHeaders, key = URL_KEY): LookupOutcome {
  const out = emptyLookup();
  cache.lookupFirst(key, headers, out);
  return out;
}

const tagOf = (o: LookupOutcome) => o.found?.headers[1];

describe('TieredCache: lookup without Vary', () => {
  it('is a uri-miss at the primary key when nothing is stored', () => {
    const { cache } = setup();
    const out = lookup(cache, {});
    assert.equal(out.found, undefined);
    assert.equal(out.miss, 'uri-miss');
    assert.equal(out.key, URL_KEY);
  });

  it('finds a non-varying response at the primary key, whatever the request headers', () => {
    const { cache } = setup();
    const r = response(undefined, 'plain');
    cache.store(URL_KEY, { 'accept-language': 'en' }, r);
    assert.equal(lookup(cache, { 'accept-language': 'fr' }).found, r);
    assert.equal(lookup(cache, {}).key, URL_KEY);
  });

  it('keeps URLs apart', () => {
    const { cache } = setup();
    cache.store(URL_KEY, {}, response(undefined, 'a'));
    assert.equal(lookup(cache, {}, `${URL_KEY}?q=1`).found, undefined);
  });

  it('resets a reused outcome object', () => {
    const { cache } = setup();
    cache.store(URL_KEY, {}, response(undefined, 'a'));
    const out: LookupOutcome = { key: 'stale', found: response(undefined, 'old'), tier: 'l2', miss: 'vary-miss', selector: 'x' };
    cache.lookupFirst('other', {}, out);
    assert.deepEqual(out, { key: 'other', found: undefined, tier: 'l1', miss: 'uri-miss', selector: null });
  });
});

describe('TieredCache: Vary index (RFC 9111 §4.1)', () => {
  it('stores variants side by side and selects the one matching the request', () => {
    const { cache } = setup();
    const en = response('Accept-Language', 'en');
    const fr = response('Accept-Language', 'fr');
    cache.store(URL_KEY, { 'accept-language': 'en' }, en);
    cache.store(URL_KEY, { 'accept-language': 'fr' }, fr);
    assert.equal(lookup(cache, { 'accept-language': 'en' }).found, en);
    assert.equal(lookup(cache, { 'accept-language': 'fr' }).found, fr);
  });

  it('is a vary-miss, keyed by the variant, when no stored variant matches', () => {
    const { cache } = setup();
    cache.store(URL_KEY, { 'accept-language': 'en' }, response('Accept-Language', 'en'));
    const out = lookup(cache, { 'accept-language': 'de' });
    assert.equal(out.found, undefined);
    assert.equal(out.miss, 'vary-miss');
    assert.notEqual(out.key, URL_KEY);
    assert.equal(out.key, TieredCache.variantKey(URL_KEY, ['accept-language'], { 'accept-language': 'de' }));
  });

  it('looks a variant up at the key it was stored under', () => {
    const { cache } = setup();
    const headers = { 'accept-language': 'en', 'accept-encoding': 'gzip' };
    const r = response('Accept-Encoding, Accept-Language', 'x');
    cache.store(URL_KEY, headers, r);
    const out = lookup(cache, headers);
    assert.equal(out.found, r);
    assert.equal(out.key, TieredCache.variantKey(URL_KEY, r.varyNames, headers));
    assert.equal(TieredCache.variantKey(URL_KEY, [], headers), URL_KEY);
  });

  it('tells a request without the varying field from one with an empty value', () => {
    const { cache } = setup();
    cache.store(URL_KEY, {}, response('X-Mode', 'absent'));
    assert.equal(tagOf(lookup(cache, {})), 'absent');
    assert.equal(lookup(cache, { 'x-mode': '' }).miss, 'vary-miss');
  });

  it('selects on every listed field', () => {
    const { cache } = setup();
    cache.store(URL_KEY, { 'accept-language': 'en', 'x-mode': 'a' }, response('Accept-Language, X-Mode', 'en-a'));
    assert.equal(tagOf(lookup(cache, { 'accept-language': 'en', 'x-mode': 'a' })), 'en-a');
    assert.equal(lookup(cache, { 'accept-language': 'en', 'x-mode': 'b' }).miss, 'vary-miss');
    assert.equal(lookup(cache, { 'accept-language': 'fr', 'x-mode': 'a' }).miss, 'vary-miss');
  });

  it('replaces a variant stored again for the same selector, without duplicating it in the index', () => {
    const { cache, l1 } = setup();
    cache.store(URL_KEY, { 'accept-language': 'en' }, response('Accept-Language', 'v1'));
    cache.store(URL_KEY, { 'accept-language': 'en' }, response('Accept-Language', 'v2'));
    assert.equal(tagOf(lookup(cache, { 'accept-language': 'en' })), 'v2');
    assert.equal(l1.stats().entries, 2);
    assert.equal(cache.invalidateLocal({ kind: 'urls', keys: [URL_KEY] }, false), 2);
  });

  it('drops all old variants when the Vary field list changes', () => {
    const { cache, l1 } = setup();
    cache.store(URL_KEY, { 'accept-language': 'en' }, response('Accept-Language', 'en'));
    cache.store(URL_KEY, { 'accept-language': 'fr' }, response('Accept-Language', 'fr'));
    const oldEn = varySelector(['accept-language'], { 'accept-language': 'en' });
    const oldFr = varySelector(['accept-language'], { 'accept-language': 'fr' });
    cache.store(URL_KEY, { 'accept-language': 'de', 'x-mode': 'a' }, response('X-Mode', 'mode-a'));
    assert.equal(l1.get(URL_KEY, oldEn), undefined);
    assert.equal(l1.get(URL_KEY, oldFr), undefined);
    assert.equal(l1.stats().entries, 2); // the new index and the one new variant
    assert.equal(tagOf(lookup(cache, { 'accept-language': 'en', 'x-mode': 'a' })), 'mode-a');
    assert.equal(lookup(cache, { 'accept-language': 'en', 'x-mode': 'b' }).miss, 'vary-miss');
  });

  it('drops all variants when the response stops varying', () => {
    const { cache, l1 } = setup();
    cache.store(URL_KEY, { 'accept-language': 'en' }, response('Accept-Language', 'en'));
    cache.store(URL_KEY, { 'accept-language': 'fr' }, response('Accept-Language', 'fr'));
    const plain = response(undefined, 'plain');
    cache.store(URL_KEY, { 'accept-language': 'en' }, plain);
    assert.equal(l1.stats().entries, 1);
    assert.equal(lookup(cache, { 'accept-language': 'fr' }).found, plain);
  });

  it('replaces a non-varying response when the response starts varying', () => {
    const { cache, l1 } = setup();
    cache.store(URL_KEY, {}, response(undefined, 'plain'));
    cache.store(URL_KEY, { 'accept-language': 'en' }, response('Accept-Language', 'en'));
    assert.equal(l1.stats().entries, 2);
    assert.equal(tagOf(lookup(cache, { 'accept-language': 'en' })), 'en');
    assert.equal(lookup(cache, { 'accept-language': 'fr' }).miss, 'vary-miss');
  });

  it('keeps at most MAX_VARIANTS_PER_URL variants, dropping the oldest', () => {
    const { cache, l1 } = setup();
    for (let i = 0; i <= MAX_VARIANTS_PER_URL; i++) cache.store(URL_KEY, { 'x-v': String(i) }, response('X-V', String(i)));
    assert.equal(lookup(cache, { 'x-v': '0' }).miss, 'vary-miss');
    assert.equal(tagOf(lookup(cache, { 'x-v': '1' })), '1');
    assert.equal(tagOf(lookup(cache, { 'x-v': String(MAX_VARIANTS_PER_URL) })), String(MAX_VARIANTS_PER_URL));
    assert.equal(l1.stats().entries, MAX_VARIANTS_PER_URL + 1);
  });
});

describe('TieredCache: invalidate', () => {
  it('removes a non-varying response', () => {
    const { cache, l1 } = setup();
    cache.store(URL_KEY, {}, response(undefined, 'a'));
    assert.equal(cache.invalidateLocal({ kind: 'urls', keys: [URL_KEY] }, false), 1);
    assert.equal(lookup(cache, {}).found, undefined);
    assert.equal(l1.stats().entries, 0);
  });

  it('removes every variant and the index', () => {
    const { cache, l1 } = setup();
    for (const lang of ['en', 'fr', 'de']) cache.store(URL_KEY, { 'accept-language': lang }, response('Accept-Language', lang));
    assert.equal(cache.invalidateLocal({ kind: 'urls', keys: [URL_KEY] }, false), 4);
    for (const lang of ['en', 'fr', 'de']) {
      const out = lookup(cache, { 'accept-language': lang });
      assert.equal(out.found, undefined, lang);
      assert.equal(out.miss, 'uri-miss', lang);
      assert.equal(l1.get(URL_KEY, varySelector(['accept-language'], { 'accept-language': lang })), undefined, lang);
    }
    assert.equal(l1.stats().entries, 0);
  });

  it('leaves other URLs alone', () => {
    const { cache } = setup();
    cache.store(URL_KEY, {}, response(undefined, 'a'));
    cache.store(`${URL_KEY}/other`, { 'accept-language': 'en' }, response('Accept-Language', 'b'));
    cache.invalidateLocal({ kind: 'urls', keys: [URL_KEY] }, false);
    assert.equal(tagOf(lookup(cache, { 'accept-language': 'en' }, `${URL_KEY}/other`)), 'b');
  });

  it('returns 0 when nothing is stored', () => {
    assert.equal(setup().cache.invalidateLocal({ kind: 'urls', keys: [URL_KEY] }, false), 0);
  });

  it('reaches every variant even after memory pressure evicted the Vary index (RFC 9111 §4.4)', () => {
    // L1 holds 300 bytes. The index (~83 bytes) is touched just before its variant on every
    // lookup, so it is the least recently used of the two and the first to go.
    const { cache, l1 } = setup(300);
    const en = response('Accept-Language', 'en');
    cache.store(URL_KEY, { 'accept-language': 'en' }, en);
    assert.equal(lookup(cache, { 'accept-language': 'en' }).found, en);
    l1.set('origin.example/filler', '', response(undefined, 'filler', { size: 150 }), MAX_AGE);
    assert.equal(l1.stats().evictions, 1);
    l1.delete('origin.example/filler');

    cache.invalidateLocal({ kind: 'urls', keys: [URL_KEY] }, false);
    assert.equal(l1.get(URL_KEY, varySelector(['accept-language'], { 'accept-language': 'en' })), undefined, 'the variant outlived invalidation');
    // A later response for another language recreates the index; the invalidated English
    // variant must not come back with it.
    cache.store(URL_KEY, { 'accept-language': 'fr' }, response('Accept-Language', 'fr'));
    const out = lookup(cache, { 'accept-language': 'en' });
    assert.notEqual(out.found, en, 'an invalidated variant was served');
  });
});

describe('TieredCache: Accept-Encoding normalisation', () => {
  it('shares one variant between spellings that pick the same coding', () => {
    const { cache, l1 } = setup();
    const br = response('Accept-Encoding', 'br');
    cache.store(URL_KEY, { 'accept-encoding': 'gzip, deflate, br, zstd' }, br);
    assert.equal(lookup(cache, { 'accept-encoding': 'br;q=1.0, gzip;q=0.8' }).found, br);
    assert.equal(lookup(cache, { 'accept-encoding': 'br' }).found, br);
    cache.store(URL_KEY, { 'accept-encoding': 'br, gzip' }, response('Accept-Encoding', 'br2'));
    assert.equal(l1.stats().entries, 2);
  });

  it('keeps gzip and identity variants apart from br', () => {
    const { cache } = setup();
    cache.store(URL_KEY, { 'accept-encoding': 'br, gzip' }, response('Accept-Encoding', 'br'));
    cache.store(URL_KEY, { 'accept-encoding': 'gzip, deflate' }, response('Accept-Encoding', 'gzip'));
    cache.store(URL_KEY, {}, response('Accept-Encoding', 'identity'));
    assert.equal(tagOf(lookup(cache, { 'accept-encoding': 'gzip' })), 'gzip');
    assert.equal(tagOf(lookup(cache, { 'accept-encoding': 'x-gzip, deflate' })), 'gzip');
    assert.equal(tagOf(lookup(cache, { 'accept-encoding': 'br' })), 'br');
    assert.equal(tagOf(lookup(cache, {})), 'identity');
    assert.equal(tagOf(lookup(cache, { 'accept-encoding': 'identity' })), 'identity');
    assert.equal(tagOf(lookup(cache, { 'accept-encoding': 'deflate' })), 'identity');
  });

  it('normalises Accept-Encoding alongside other varying fields', () => {
    const { cache } = setup();
    cache.store(URL_KEY, { 'accept-encoding': 'gzip, br', 'accept-language': 'en' }, response('Accept-Encoding, Accept-Language', 'en-br'));
    assert.equal(tagOf(lookup(cache, { 'accept-encoding': 'br;q=0.9', 'accept-language': 'en' })), 'en-br');
    assert.equal(lookup(cache, { 'accept-encoding': 'br;q=0.9', 'accept-language': 'fr' }).miss, 'vary-miss');
  });
});

describe('MemoryTier.retentionMs', () => {
  const { l1 } = setup();
  const NOW = 1_700_000_000_000;
  it('keeps an object for its remaining freshness plus the longer stale window', () => {
    assert.equal(l1.retentionMs(response(undefined, 'a', { responseTime: NOW, lifetimeMs: 60_000, initialAgeMs: 10_000 }), NOW), 50_000);
    assert.equal(l1.retentionMs(response(undefined, 'a', { responseTime: NOW, lifetimeMs: 60_000, staleWhileRevalidateMs: 30_000, staleIfErrorMs: 90_000 }), NOW), 150_000);
  });

  it('is at least one second, and as long as the object is usable (CACHE_MAX_AGE caps freshness, not retention)', () => {
    assert.equal(l1.retentionMs(response(undefined, 'a', { responseTime: NOW, lifetimeMs: 0, initialAgeMs: 5_000 }), NOW), 1_000);
    assert.equal(l1.retentionMs(response(undefined, 'a', { responseTime: NOW, lifetimeMs: 86_400_000 }), NOW), 86_400_000);
  });

  it('keeps stale objects with validators for revalidation', () => {
    assert.equal(l1.retentionMs(response(undefined, 'a', { responseTime: NOW, lifetimeMs: 0, etag: '"v1"' }), NOW), MAX_AGE);
    assert.equal(l1.retentionMs(response(undefined, 'a', { responseTime: NOW, lifetimeMs: 0, lastModified: 'Sun, 06 Nov 1994 08:49:37 GMT' }), NOW), MAX_AGE);
  });
});
