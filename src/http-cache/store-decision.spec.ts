import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseCacheControl } from './cache-control';
import { contentLength, decideStore, freshnessFrom, RuleFreshness, StoreDecisionInputs } from './store-decision';

const T = Date.UTC(2026, 11, 1, 12, 0, 0);
const POLICY = { heuristicMaxMs: 86_400_000, defaultTtlMs: 0 };
const inputs = (over: Partial<StoreDecisionInputs> = {}): StoreDecisionInputs => ({
  method: 'GET', status: 200, fields: { 'cache-control': 'max-age=60' }, requestCc: null, requestHasAuthorization: false,
  responseTime: T, surrogateName: null, stripSetCookie: false, maxObjectBytes: 1000, ...over,
});

describe('store decision (RFC 9111 §3)', () => {
  it('RFC 9213 §2.1: in reverse mode the first valid targeted field governs and Cache-Control and Expires are ignored', () => {
    const fields = { 'cache-control': 'no-store', expires: new Date(T + 3600_000).toUTCString(), 'cdn-cache-control': 'max-age=30' };
    const d = decideStore(inputs({ fields, surrogateName: 'tiercel' }), POLICY);
    assert.equal(d.refusal, null);
    assert.equal(d.governedBy, 'cdn-cache-control');
    assert.equal(d.freshness.lifetimeMs, 30_000);
    const own = decideStore(inputs({ fields: { ...fields, 'edge-cache-control': 'max-age=5' }, surrogateName: 'Edge' }), POLICY);
    assert.equal(own.governedBy, 'edge-cache-control');
    assert.equal(own.freshness.lifetimeMs, 5_000);
    // A targeted field without freshness: Expires is ignored with Cache-Control.
    const noTtl = decideStore(inputs({ fields: { expires: new Date(T + 3600_000).toUTCString(), date: new Date(T).toUTCString(), 'cdn-cache-control': 'must-revalidate' }, surrogateName: 'tiercel' }), POLICY);
    assert.equal(noTtl.freshness.source, 'none');
  });

  it('names what decided freshness: a rule with override above the targeted fields, a plain ttl only below them', () => {
    const fields = { 'cache-control': 'max-age=600', 'cdn-cache-control': 'max-age=120', 'tiercel-cache-control': 'max-age=30' };
    const override: RuleFreshness = { ttlMs: 5_000, override: true, statusTtlMs: null, graceMs: 0 };
    const ttlOnly: RuleFreshness = { ...override, override: false };
    assert.equal(decideStore(inputs({ fields, surrogateName: 'tiercel' }), POLICY).governedBy, 'tiercel-cache-control');
    const o = decideStore(inputs({ fields, surrogateName: 'tiercel', rule: override }), POLICY);
    assert.equal(o.governedBy, 'rule');
    assert.equal(o.freshness.lifetimeMs, 5_000);
    const t = decideStore(inputs({ fields, surrogateName: 'tiercel', rule: ttlOnly }), POLICY);
    assert.equal(t.governedBy, 'tiercel-cache-control');
    assert.equal(t.freshness.lifetimeMs, 30_000);
    // The ttl fills in only where the origin gave no explicit freshness, targeted or not.
    const bare = decideStore(inputs({ fields: { 'cdn-cache-control': 'public' }, surrogateName: 'tiercel', rule: ttlOnly }), POLICY);
    assert.equal(bare.governedBy, 'rule');
    assert.equal(decideStore(inputs({ fields: { 'cache-control': 'max-age=60' }, surrogateName: 'tiercel' }), POLICY).governedBy, 'cache-control');
  });

  it('freshnessFrom recomputes the governing field and its value from stored fields', () => {
    const fields = { 'cache-control': 'max-age=600', 'cdn-cache-control': ['max-age=120', 'stale-if-error=60'], 'tiercel-cache-control': 'max-age=30' };
    assert.deepEqual(freshnessFrom(200, fields, 'tiercel', T, POLICY, null), { field: 'tiercel-cache-control', value: 'max-age=30', source: 'max-age', lifetimeSeconds: 30 });
    // An invalid own field (RFC 9213 §2.2) hands over to the next one in the target list.
    assert.deepEqual(freshnessFrom(200, { ...fields, 'tiercel-cache-control': 'max-age="30"' }, 'tiercel', T, POLICY, null),
      { field: 'cdn-cache-control', value: 'max-age=120, stale-if-error=60', source: 'max-age', lifetimeSeconds: 120 });
    assert.deepEqual(freshnessFrom(200, fields, null, T, POLICY, null), { field: 'cache-control', value: 'max-age=600', source: 'max-age', lifetimeSeconds: 600 });
    assert.deepEqual(freshnessFrom(200, fields, 'tiercel', T, POLICY, { ttlMs: 5_000, override: true, statusTtlMs: null, graceMs: 0 }),
      { field: 'rule', value: null, source: 'rule', lifetimeSeconds: 5 });
  });

  it('forward mode (no surrogate name): targeted fields are not for Tiercel', () => {
    const d = decideStore(inputs({ fields: { 'cache-control': 'no-store', 'cdn-cache-control': 'max-age=30', 'tiercel-cache-control': 'max-age=30' } }), POLICY);
    assert.equal(d.refusal, 'no-store');
    assert.equal(d.governedBy, 'cache-control');
  });

  it('a 206 is stored only as a part of a Range request (RFC 9111 §3.3)', () => {
    assert.equal(decideStore(inputs({ status: 206 }), POLICY).refusal, 'partial');
    assert.equal(decideStore(inputs({ status: 206, partialStorage: true }), POLICY).refusal, null);
  });

  it('stores a GET 200 with max-age, with its freshness and Vary', () => {
    const d = decideStore(inputs({ fields: { 'cache-control': 'max-age=60', vary: 'Accept-Language' } }), POLICY);
    assert.equal(d.refusal, null);
    assert.equal(d.freshness.lifetimeMs, 60_000);
    assert.deepEqual(d.vary.names, ['accept-language']);
  });

  it('refuses what the rules refuse, naming why', () => {
    assert.equal(decideStore(inputs({ method: 'POST' }), POLICY).refusal, 'method');
    assert.equal(decideStore(inputs({ fields: { 'cache-control': 'no-store' } }), POLICY).refusal, 'no-store');
    assert.equal(decideStore(inputs({ fields: { 'cache-control': 'private, max-age=60' } }), POLICY).refusal, 'private');
    assert.equal(decideStore(inputs({ requestCc: parseCacheControl('no-store') }), POLICY).refusal, 'no-store');
    assert.equal(decideStore(inputs({ requestHasAuthorization: true }), POLICY).refusal, 'authorization');
    assert.equal(decideStore(inputs({ fields: { 'cache-control': 'max-age=60', vary: '*' } }), POLICY).refusal, 'vary-star');
    assert.equal(decideStore(inputs({ status: 206 }), POLICY).refusal, 'partial');
  });

  it('refuses a body announced larger than the object cap before reading it', () => {
    assert.equal(decideStore(inputs({ fields: { 'cache-control': 'max-age=60', 'content-length': '1001' } }), POLICY).refusal, 'too-large');
    assert.equal(decideStore(inputs({ fields: { 'cache-control': 'max-age=60', 'content-length': '1000' } }), POLICY).refusal, null);
  });

  it('lets Tiercel\'s own Surrogate-Control win over Cache-Control when it acts as a surrogate', () => {
    const fields = { 'cache-control': 'no-store', 'surrogate-control': 'max-age=300' };
    assert.equal(decideStore(inputs({ fields, surrogateName: 'tiercel' }), POLICY).refusal, null);
    assert.equal(decideStore(inputs({ fields, surrogateName: 'tiercel' }), POLICY).freshness.lifetimeMs, 300_000);
    assert.equal(decideStore(inputs({ fields }), POLICY).refusal, 'no-store');
  });

  it('takes the clock from the response time: an Expires one minute after Date is a minute fresh', () => {
    const fields = { date: new Date(T).toUTCString(), expires: new Date(T + 60_000).toUTCString() };
    assert.equal(decideStore(inputs({ fields }), POLICY).freshness.lifetimeMs, 60_000);
  });

  it('reads Content-Length only as plain digits', () => {
    assert.equal(contentLength('42'), 42);
    assert.equal(contentLength(['7', '8']), 7);
    assert.equal(contentLength('4 2'), null);
    assert.equal(contentLength('-1'), null);
    assert.equal(contentLength(undefined), null);
  });
});
