import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseCacheControl } from './cache-control';
import { correctedInitialAge, FreshnessInputs, FreshnessPolicy, freshnessLifetime, HEURISTICALLY_CACHEABLE } from './freshness';
import { formatHttpDate } from './http-date';

const T0 = Date.UTC(2024, 0, 15, 12, 0, 0);
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const policy: FreshnessPolicy = { heuristicMaxMs: DAY, defaultTtlMs: 0 };

function inputs(over: Partial<Omit<FreshnessInputs, 'cc'>> & { cc?: string }): FreshnessInputs {
  const { cc, ...rest } = over;
  return {
    status: 200,
    cc: parseCacheControl(cc),
    date: formatHttpDate(T0),
    expires: undefined,
    lastModified: undefined,
    responseTime: T0,
    ...rest,
  };
}

describe('freshnessLifetime (RFC 9111 §4.2.1)', () => {
  it('prefers s-maxage over max-age and Expires in a shared cache', () => {
    const f = freshnessLifetime(inputs({ cc: 'max-age=10, s-maxage=20', expires: formatHttpDate(T0 + 30_000) }), policy);
    assert.deepEqual(f, { lifetimeMs: 20_000, source: 's-maxage' });
  });

  it('prefers max-age over Expires, even an already-past or invalid Expires', () => {
    assert.deepEqual(freshnessLifetime(inputs({ cc: 'max-age=10', expires: formatHttpDate(T0 + 30_000) }), policy), { lifetimeMs: 10_000, source: 'max-age' });
    assert.deepEqual(freshnessLifetime(inputs({ cc: 'max-age=10', expires: formatHttpDate(T0 - 30_000) }), policy), { lifetimeMs: 10_000, source: 'max-age' });
    assert.deepEqual(freshnessLifetime(inputs({ cc: 'max-age=10', expires: '0' }), policy), { lifetimeMs: 10_000, source: 'max-age' });
  });

  it('treats max-age=0 as zero lifetime', () => {
    assert.deepEqual(freshnessLifetime(inputs({ cc: 'max-age=0' }), policy), { lifetimeMs: 0, source: 'max-age' });
  });

  it('treats an invalid max-age or s-maxage as stale rather than falling through (§4.2.1)', () => {
    const lm = formatHttpDate(T0 - 10 * DAY);
    assert.deepEqual(freshnessLifetime(inputs({ cc: 'max-age=abc', lastModified: lm }), policy), { lifetimeMs: 0, source: 'max-age' });
    assert.deepEqual(freshnessLifetime(inputs({ cc: 's-maxage=-1, max-age=60' }), policy), { lifetimeMs: 0, source: 's-maxage' });
  });

  it('computes Expires minus Date (§4.2.1)', () => {
    const f = freshnessLifetime(inputs({ date: formatHttpDate(T0), expires: formatHttpDate(T0 + HOUR), responseTime: T0 + 5_000 }), policy);
    assert.deepEqual(f, { lifetimeMs: HOUR, source: 'expires' });
  });

  it('uses the response time in place of a missing or invalid Date', () => {
    assert.deepEqual(
      freshnessLifetime(inputs({ date: undefined, expires: formatHttpDate(T0 + HOUR), responseTime: T0 + 60_000 }), policy),
      { lifetimeMs: HOUR - 60_000, source: 'expires' },
    );
    assert.deepEqual(
      freshnessLifetime(inputs({ date: 'yesterday', expires: formatHttpDate(T0 + HOUR), responseTime: T0 }), policy),
      { lifetimeMs: HOUR, source: 'expires' },
    );
  });

  it('treats an Expires in the past, or invalid such as "0", as already expired (§5.3)', () => {
    assert.deepEqual(freshnessLifetime(inputs({ expires: formatHttpDate(T0 - HOUR) }), policy), { lifetimeMs: 0, source: 'expires' });
    assert.deepEqual(freshnessLifetime(inputs({ expires: '0' }), policy), { lifetimeMs: 0, source: 'expires' });
    assert.deepEqual(freshnessLifetime(inputs({ expires: '-1' }), policy), { lifetimeMs: 0, source: 'expires' });
  });

  it('never uses heuristics when Expires is present, even an invalid one (§4.2.2)', () => {
    const f = freshnessLifetime(inputs({ expires: '0', lastModified: formatHttpDate(T0 - 10 * DAY) }), { heuristicMaxMs: DAY, defaultTtlMs: 60_000 });
    assert.equal(f.lifetimeMs, 0);
    assert.equal(f.source, 'expires');
  });

  it('accepts the obsolete date forms in Expires (RFC 9110 §5.6.7)', () => {
    const date = 'Sun, 06 Nov 1994 08:49:37 GMT';
    const f = freshnessLifetime(inputs({ date, expires: 'Sun Nov  6 09:49:37 1994', responseTime: T0 }), policy);
    assert.deepEqual(f, { lifetimeMs: HOUR, source: 'expires' });
  });
});

describe('heuristic freshness (RFC 9111 §4.2.2)', () => {
  it('uses 10% of the time since Last-Modified', () => {
    const f = freshnessLifetime(inputs({ lastModified: formatHttpDate(T0 - 5 * HOUR) }), policy);
    assert.deepEqual(f, { lifetimeMs: HOUR / 2, source: 'heuristic' });
  });

  it('caps the heuristic at the configured maximum', () => {
    const f = freshnessLifetime(inputs({ lastModified: formatHttpDate(T0 - 100 * DAY) }), { heuristicMaxMs: HOUR, defaultTtlMs: 0 });
    assert.deepEqual(f, { lifetimeMs: HOUR, source: 'heuristic' });
  });

  it('applies to every heuristically cacheable status of RFC 9110 §15.1', () => {
    assert.deepEqual([...HEURISTICALLY_CACHEABLE].sort((a, b) => a - b), [200, 203, 204, 206, 300, 301, 308, 404, 405, 410, 414, 501]);
    for (const status of HEURISTICALLY_CACHEABLE) {
      const f = freshnessLifetime(inputs({ status, lastModified: formatHttpDate(T0 - 10 * HOUR) }), policy);
      assert.deepEqual(f, { lifetimeMs: HOUR, source: 'heuristic' }, String(status));
    }
  });

  it('does not apply to other statuses without an explicit marker', () => {
    for (const status of [201, 302, 303, 307, 400, 403, 500, 502, 503]) {
      const f = freshnessLifetime(inputs({ status, lastModified: formatHttpDate(T0 - 10 * HOUR) }), { heuristicMaxMs: DAY, defaultTtlMs: 60_000 });
      assert.deepEqual(f, { lifetimeMs: 0, source: 'none' }, String(status));
    }
  });

  it('applies to any status marked public', () => {
    const f = freshnessLifetime(inputs({ status: 302, cc: 'public', lastModified: formatHttpDate(T0 - 10 * HOUR) }), policy);
    assert.deepEqual(f, { lifetimeMs: HOUR, source: 'heuristic' });
  });

  it('ignores a Last-Modified that is not before Date', () => {
    assert.deepEqual(freshnessLifetime(inputs({ lastModified: formatHttpDate(T0) }), policy), { lifetimeMs: 0, source: 'none' });
    assert.deepEqual(freshnessLifetime(inputs({ lastModified: formatHttpDate(T0 + HOUR) }), policy), { lifetimeMs: 0, source: 'none' });
    assert.deepEqual(freshnessLifetime(inputs({ lastModified: 'garbage' }), policy), { lifetimeMs: 0, source: 'none' });
  });

  it('falls back to the configured default TTL for heuristically cacheable responses only', () => {
    const p = { heuristicMaxMs: DAY, defaultTtlMs: 30_000 };
    assert.deepEqual(freshnessLifetime(inputs({}), p), { lifetimeMs: 30_000, source: 'default-ttl' });
    assert.deepEqual(freshnessLifetime(inputs({ status: 500 }), p), { lifetimeMs: 0, source: 'none' });
    assert.deepEqual(freshnessLifetime(inputs({ status: 500, cc: 'public' }), p), { lifetimeMs: 30_000, source: 'default-ttl' });
  });

  it('has no freshness at all without information and without a default TTL', () => {
    assert.deepEqual(freshnessLifetime(inputs({}), policy), { lifetimeMs: 0, source: 'none' });
  });
});

describe('correctedInitialAge (RFC 9111 §4.2.3)', () => {
  it('is the apparent age when Date is older than the response and no Age is given', () => {
    assert.equal(correctedInitialAge(undefined, formatHttpDate(T0), T0 + 4_900, T0 + 5_000), 5_000);
  });

  it('is age_value plus the response delay when that is larger', () => {
    assert.equal(correctedInitialAge('10', formatHttpDate(T0), T0, T0 + 200), 10_200);
  });

  it('never goes negative when Date is in the future (clock skew)', () => {
    assert.equal(correctedInitialAge(undefined, formatHttpDate(T0 + HOUR), T0, T0), 0);
    assert.equal(correctedInitialAge(undefined, formatHttpDate(T0 + HOUR), T0 - 300, T0), 300);
  });

  it('takes the larger of apparent age and corrected Age', () => {
    // apparent 20 s, Age 5 s + 1 s delay: apparent wins.
    assert.equal(correctedInitialAge('5', formatHttpDate(T0), T0 + 19_000, T0 + 20_000), 20_000);
    // apparent 2 s, Age 60 s + 1 s delay: Age wins.
    assert.equal(correctedInitialAge('60', formatHttpDate(T0), T0 + 1_000, T0 + 2_000), 61_000);
  });

  it('treats an invalid Age as absent', () => {
    assert.equal(correctedInitialAge('abc', formatHttpDate(T0), T0, T0 + 100), 100);
    assert.equal(correctedInitialAge('-5', formatHttpDate(T0), T0, T0 + 100), 100);
  });

  it('uses the response time for a missing Date (apparent age 0)', () => {
    assert.equal(correctedInitialAge('3', undefined, T0, T0 + 50), 3_050);
    assert.equal(correctedInitialAge(undefined, undefined, T0, T0 + 50), 50);
  });

  it('caps a huge Age at 2^31 seconds', () => {
    assert.equal(correctedInitialAge('99999999999', formatHttpDate(T0), T0, T0), 2147483648 * 1000);
  });
});
