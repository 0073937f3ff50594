import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseCacheControl } from './cache-control';
import { currentAge, reuse, StoredFreshness } from './reuse';

const T0 = 1_700_000_000_000;

function stored(over: Partial<StoredFreshness> = {}): StoredFreshness {
  return {
    initialAgeMs: 0,
    responseTime: T0,
    lifetimeMs: 60_000,
    staleWhileRevalidateMs: 0,
    noCache: false,
    forbidStale: false,
    ...over,
  };
}

const req = (cc: string) => parseCacheControl(cc);

describe('currentAge (RFC 9111 §4.2.3)', () => {
  it('is the corrected initial age plus resident time', () => {
    assert.equal(currentAge(stored({ initialAgeMs: 5_000 }), T0 + 2_000), 7_000);
    assert.equal(currentAge(stored(), T0), 0);
  });
});

describe('reuse without request directives', () => {
  it('serves a fresh response', () => {
    assert.equal(reuse(stored(), T0, null), 'fresh');
    assert.equal(reuse(stored(), T0 + 59_999, null), 'fresh');
  });

  it('counts the initial age against the lifetime', () => {
    assert.equal(reuse(stored({ initialAgeMs: 30_000 }), T0 + 29_999, null), 'fresh');
    assert.equal(reuse(stored({ initialAgeMs: 30_000 }), T0 + 31_000, null), 'revalidate');
  });

  it('is stale once current_age reaches the lifetime (§4.2: fresh iff lifetime > age)', () => {
    assert.equal(reuse(stored(), T0 + 60_001, null), 'revalidate');
  });

  it('does not serve stale at the exact moment of expiry without stale-while-revalidate (§4.2.4)', () => {
    // age == lifetime: the response is stale, and nothing permits serving it stale.
    assert.equal(reuse(stored(), T0 + 60_000, null), 'revalidate');
    // max-age=0 with a validator, looked up in the same millisecond it arrived.
    assert.equal(reuse(stored({ lifetimeMs: 0 }), T0, null), 'revalidate');
  });

  it('always revalidates a response carrying no-cache (§5.2.2.4)', () => {
    assert.equal(reuse(stored({ noCache: true }), T0, null), 'revalidate');
    assert.equal(reuse(stored({ noCache: true, staleWhileRevalidateMs: 60_000 }), T0 + 61_000, null), 'revalidate');
  });

  it('serves stale within stale-while-revalidate and refreshes (RFC 5861 §3)', () => {
    const s = stored({ staleWhileRevalidateMs: 30_000 });
    assert.equal(reuse(s, T0 + 61_000, null), 'stale-refresh');
    assert.equal(reuse(s, T0 + 90_000, null), 'stale-refresh');
    assert.equal(reuse(s, T0 + 90_001, null), 'revalidate');
  });

  it('never serves stale when must-revalidate, proxy-revalidate or s-maxage forbid it (§4.2.4)', () => {
    const s = stored({ staleWhileRevalidateMs: 30_000, forbidStale: true });
    assert.equal(reuse(s, T0 + 1_000, null), 'fresh');
    assert.equal(reuse(s, T0 + 61_000, null), 'revalidate');
  });
});

describe('reuse with request directives (§5.2.1)', () => {
  it('behaves like no directives when the request has none that constrain reuse', () => {
    assert.equal(reuse(stored(), T0 + 1_000, req('no-transform')), 'fresh');
    assert.equal(reuse(stored(), T0 + 61_000, req('no-transform')), 'revalidate');
    assert.equal(reuse(stored({ staleWhileRevalidateMs: 30_000 }), T0 + 61_000, req('no-transform')), 'stale-refresh');
  });

  it('revalidates for request no-cache, even when fresh (§5.2.1.4)', () => {
    assert.equal(reuse(stored(), T0, req('no-cache')), 'revalidate');
  });

  it('revalidates a stored no-cache response even when the request allows staleness', () => {
    assert.equal(reuse(stored({ noCache: true }), T0, req('max-stale')), 'revalidate');
  });

  it('honours request max-age: age must be <= max-age (§5.2.1.1)', () => {
    assert.equal(reuse(stored(), T0 + 10_000, req('max-age=10')), 'fresh');
    assert.equal(reuse(stored(), T0 + 10_001, req('max-age=10')), 'revalidate');
    assert.equal(reuse(stored(), T0 + 1, req('max-age=0')), 'revalidate');
    assert.equal(reuse(stored(), T0, req('max-age=0')), 'fresh');
  });

  it('treats an invalid request max-age as max-age=0', () => {
    assert.equal(reuse(stored(), T0 + 1, req('max-age=abc')), 'revalidate');
  });

  it('lets request max-age accept a stale response only with max-stale', () => {
    assert.equal(reuse(stored(), T0 + 70_000, req('max-age=100')), 'revalidate');
    assert.equal(reuse(stored(), T0 + 70_000, req('max-age=100, max-stale=20')), 'stale-ok');
  });

  it('honours min-fresh: remaining freshness must be at least min-fresh (§5.2.1.3)', () => {
    assert.equal(reuse(stored(), T0 + 30_000, req('min-fresh=30')), 'fresh');
    assert.equal(reuse(stored(), T0 + 30_001, req('min-fresh=30')), 'revalidate');
  });

  it('honours max-stale with a value (§5.2.1.2)', () => {
    assert.equal(reuse(stored(), T0 + 70_000, req('max-stale=10')), 'stale-ok');
    assert.equal(reuse(stored(), T0 + 70_001, req('max-stale=10')), 'revalidate');
  });

  it('honours max-stale without a value as any staleness', () => {
    assert.equal(reuse(stored(), T0 + 86_400_000, req('max-stale')), 'stale-ok');
  });

  it('ignores an invalid max-stale', () => {
    assert.equal(reuse(stored(), T0 + 61_000, req('max-stale=abc')), 'revalidate');
  });

  it('does not let max-stale override must-revalidate / proxy-revalidate / s-maxage (§5.2.2.2)', () => {
    assert.equal(reuse(stored({ forbidStale: true }), T0 + 61_000, req('max-stale')), 'revalidate');
  });

  it('falls back to stale-while-revalidate beyond max-stale', () => {
    const s = stored({ staleWhileRevalidateMs: 30_000 });
    assert.equal(reuse(s, T0 + 80_000, req('max-stale=10')), 'stale-refresh');
    assert.equal(reuse(s, T0 + 95_000, req('max-stale=10')), 'revalidate');
  });

  it('does not serve stale under stale-while-revalidate to a client asking for max-age or min-fresh without max-stale (§5.2.1.1, §5.2.1.3)', () => {
    // §5.2.1.1: "Unless the max-stale request directive is also present, the client does not wish to receive a stale response."
    const s = stored({ staleWhileRevalidateMs: 30_000 });
    assert.equal(reuse(s, T0 + 70_000, req('max-age=100')), 'revalidate');
    assert.equal(reuse(s, T0 + 70_000, req('min-fresh=1')), 'revalidate');
  });

  it('does not serve stale at the exact moment of expiry without any permission (§4.2.4)', () => {
    assert.equal(reuse(stored(), T0 + 60_000, req('no-transform')), 'revalidate');
  });
});
