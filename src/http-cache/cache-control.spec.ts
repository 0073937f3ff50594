import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EMPTY_CACHE_CONTROL, parseCacheControl, parseDeltaSeconds } from './cache-control';

describe('parseDeltaSeconds (RFC 9111 §1.2.2)', () => {
  it('reads non-negative integers', () => {
    assert.equal(parseDeltaSeconds('0'), 0);
    assert.equal(parseDeltaSeconds('60'), 60);
    assert.equal(parseDeltaSeconds('007'), 7);
  });

  it('caps values above 2^31 at 2147483648', () => {
    assert.equal(parseDeltaSeconds('2147483648'), 2147483648);
    assert.equal(parseDeltaSeconds('2147483649'), 2147483648);
    assert.equal(parseDeltaSeconds('99999999999999999999999'), 2147483648);
  });

  it('returns NaN for anything that is not 1*DIGIT', () => {
    for (const bad of [undefined, '', '-1', '1.5', ' 5', '5s', 'abc', '+5', '0x10', '1e3']) {
      assert.ok(Number.isNaN(parseDeltaSeconds(bad)), `expected NaN for ${JSON.stringify(bad)}`);
    }
  });
});

describe('parseCacheControl (RFC 9111 §5.2)', () => {
  it('returns all-false with no header, and a fresh object each time', () => {
    const a = parseCacheControl(undefined);
    assert.deepEqual(a, { ...EMPTY_CACHE_CONTROL });
    a.noStore = true;
    assert.equal(parseCacheControl(undefined).noStore, false);
    assert.equal(EMPTY_CACHE_CONTROL.noStore, false);
  });

  it('parses every known response and request directive', () => {
    const cc = parseCacheControl(
      'max-age=10, s-maxage=20, max-stale=30, min-fresh=40, stale-while-revalidate=50, stale-if-error=60, '
      + 'no-store, no-cache, private, public, must-revalidate, proxy-revalidate, must-understand, only-if-cached, immutable',
    );
    assert.equal(cc.maxAge, 10);
    assert.equal(cc.sMaxage, 20);
    assert.equal(cc.maxStale, 30);
    assert.equal(cc.minFresh, 40);
    assert.equal(cc.staleWhileRevalidate, 50);
    assert.equal(cc.staleIfError, 60);
    for (const flag of ['noStore', 'noCache', 'private', 'public', 'mustRevalidate', 'proxyRevalidate', 'mustUnderstand', 'onlyIfCached', 'immutable'] as const) {
      assert.equal(cc[flag], true, flag);
    }
  });

  it('leaves absent delta directives undefined', () => {
    const cc = parseCacheControl('public');
    assert.equal(cc.maxAge, undefined);
    assert.equal(cc.sMaxage, undefined);
    assert.equal(cc.maxStale, undefined);
    assert.equal(cc.minFresh, undefined);
    assert.equal(cc.staleWhileRevalidate, undefined);
    assert.equal(cc.staleIfError, undefined);
  });

  it('treats directive names case-insensitively', () => {
    const cc = parseCacheControl('Max-Age=5, NO-STORE, Public');
    assert.equal(cc.maxAge, 5);
    assert.equal(cc.noStore, true);
    assert.equal(cc.public, true);
  });

  it('accepts the quoted-string form of an argument (§5.2)', () => {
    assert.equal(parseCacheControl('max-age="5"').maxAge, 5);
    assert.equal(parseCacheControl('s-maxage="7"').sMaxage, 7);
  });

  it('tolerates optional whitespace and empty list elements', () => {
    const cc = parseCacheControl('  ,public ,,  max-age=3 , ');
    assert.equal(cc.public, true);
    assert.equal(cc.maxAge, 3);
  });

  it('uses the first occurrence of a repeated directive (§4.2.1)', () => {
    assert.equal(parseCacheControl('max-age=60, max-age=10').maxAge, 60);
    assert.equal(parseCacheControl(['max-age=60', 'max-age=10']).maxAge, 60);
  });

  it('combines repeated header lines as one list', () => {
    const cc = parseCacheControl(['public', 'max-age=5', 'no-cache']);
    assert.equal(cc.public, true);
    assert.equal(cc.maxAge, 5);
    assert.equal(cc.noCache, true);
  });

  it('keeps an invalid delta-seconds as NaN so the response is treated as stale (§4.2.1)', () => {
    assert.ok(Number.isNaN(parseCacheControl('max-age=abc').maxAge));
    assert.ok(Number.isNaN(parseCacheControl('max-age=-1').maxAge));
    assert.ok(Number.isNaN(parseCacheControl('max-age=1.5').maxAge));
    assert.ok(Number.isNaN(parseCacheControl('max-age').maxAge));
    assert.ok(Number.isNaN(parseCacheControl('s-maxage=').sMaxage));
  });

  it('caps a huge max-age at 2^31', () => {
    assert.equal(parseCacheControl('max-age=9999999999999').maxAge, 2147483648);
  });

  it('reads max-stale without a value as any staleness (§5.2.1.2)', () => {
    assert.equal(parseCacheControl('max-stale').maxStale, Infinity);
    assert.equal(parseCacheControl('max-stale=5').maxStale, 5);
  });

  it('does not split on commas inside a quoted argument', () => {
    const cc = parseCacheControl('no-cache="set-cookie, max-age=5", private="x, no-store"');
    assert.equal(cc.noCache, true);
    assert.equal(cc.private, true);
    assert.equal(cc.maxAge, undefined);
    assert.equal(cc.noStore, false);
  });

  it('handles escaped quotes inside a quoted argument', () => {
    const cc = parseCacheControl('no-cache="a\\", max-age=9", public');
    assert.equal(cc.noCache, true);
    assert.equal(cc.maxAge, undefined);
    assert.equal(cc.public, true);
  });

  it('treats qualified no-cache and private like their unqualified forms (stricter, never less safe)', () => {
    assert.equal(parseCacheControl('no-cache="set-cookie"').noCache, true);
    assert.equal(parseCacheControl('private="authorization"').private, true);
  });

  it('ignores unknown extension directives (§5.2.3)', () => {
    const cc = parseCacheControl('community="UCI", foo=bar, max-age=4');
    assert.deepEqual({ ...cc, maxAge: undefined }, { ...EMPTY_CACHE_CONTROL, maxAge: undefined });
    assert.equal(cc.maxAge, 4);
  });

  it('does not mistake a directive name prefix for another directive', () => {
    const cc = parseCacheControl('no-store-please, max-age-x=5, publicity');
    assert.equal(cc.noStore, false);
    assert.equal(cc.maxAge, undefined);
    assert.equal(cc.public, false);
  });
});
