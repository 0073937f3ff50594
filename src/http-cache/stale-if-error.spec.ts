import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseCacheControl } from './cache-control';
import { isOriginError, StaleIfErrorFacts, staleIfErrorAllows } from './stale-if-error';

const T = 1_700_000_000_000;
/** Stored at T with 60 s of freshness and a 30 s stale-if-error window. */
const stored = (over: Partial<StaleIfErrorFacts> = {}): StaleIfErrorFacts => ({
  initialAgeMs: 0, responseTime: T, lifetimeMs: 60_000, staleWhileRevalidateMs: 0, staleIfErrorMs: 30_000, noCache: false, forbidStale: false, ...over,
});

describe('stale-if-error (RFC 5861 §4, RFC 9111 §4.2.4)', () => {
  it('treats a connection failure (0) and any 5xx as the same error, and nothing else', () => {
    for (const s of [0, 500, 502, 503, 504, 599]) assert.equal(isOriginError(s), true, String(s));
    for (const s of [200, 304, 404, 429, 499]) assert.equal(isOriginError(s), false, String(s));
  });

  it('allows a stale response within the window, for a 5xx and for no answer alike', () => {
    assert.equal(staleIfErrorAllows(stored(), T + 60_000 + 29_000, null, 503), true);
    assert.equal(staleIfErrorAllows(stored(), T + 60_000 + 29_000, null, 0), true);
    assert.equal(staleIfErrorAllows(stored(), T + 60_000 + 30_000, null, 0), true, 'the window is inclusive');
  });

  it('refuses past the window, and for a non-error status', () => {
    assert.equal(staleIfErrorAllows(stored(), T + 60_000 + 30_001, null, 503), false);
    assert.equal(staleIfErrorAllows(stored(), T + 61_000, null, 404), false);
  });

  it('takes the larger of the response and request windows', () => {
    const req = parseCacheControl('stale-if-error=120');
    assert.equal(staleIfErrorAllows(stored(), T + 60_000 + 100_000, req, 502), true);
    assert.equal(staleIfErrorAllows(stored({ staleIfErrorMs: 0 }), T + 60_000 + 100_000, req, 502), true);
    assert.equal(staleIfErrorAllows(stored({ staleIfErrorMs: 0 }), T + 61_000, null, 502), false);
  });

  it('ignores an invalid request window', () => {
    assert.equal(staleIfErrorAllows(stored({ staleIfErrorMs: 0 }), T + 61_000, parseCacheControl('stale-if-error=soon'), 502), false);
  });

  it('never serves stale when must-revalidate, proxy-revalidate or s-maxage forbid it', () => {
    assert.equal(staleIfErrorAllows(stored({ forbidStale: true }), T + 61_000, parseCacheControl('stale-if-error=600'), 503), false);
  });

  it('counts the initial age', () => {
    assert.equal(staleIfErrorAllows(stored({ initialAgeMs: 20_000 }), T + 60_000, null, 503), true);
    assert.equal(staleIfErrorAllows(stored({ initialAgeMs: 40_000 }), T + 60_000, null, 503), false);
  });
});
