import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { cacheStatusOf, hitRecord, missed, originRecord, outcomeOf, storedRecord, synthRecord } from './request-record';

describe('one record of what happened, and what is derived from it', () => {
  it('derives Cache-Status (RFC 9211) for every phase', () => {
    assert.equal(cacheStatusOf('tiercel', hitRecord('hit', 'l1', 59)), 'tiercel; hit; detail=l1; ttl=59');
    assert.equal(cacheStatusOf('tiercel', hitRecord('stale', 'l2', -3)), 'tiercel; hit; detail=l2; ttl=-3');
    assert.equal(cacheStatusOf('tiercel', storedRecord('revalidated', 'l1', 'stale', 304, 60, null)), 'tiercel; fwd=stale; fwd-status=304; ttl=60');
    assert.equal(cacheStatusOf('tiercel', storedRecord('collapsed', 'l2', 'uri-miss', 200, 10, 'l2')), 'tiercel; fwd=uri-miss; fwd-status=200; collapsed; ttl=10; detail=l2');
    assert.equal(cacheStatusOf('tiercel', storedRecord('stale-if-error', 'l1', 'stale', null, -5, 'stale-if-error-connect-error')), 'tiercel; fwd=stale; ttl=-5; detail=stale-if-error-connect-error');
    assert.equal(cacheStatusOf('tiercel', originRecord('miss', 'vary-miss', 200, true, 60, null)), 'tiercel; fwd=vary-miss; fwd-status=200; stored; ttl=60');
    assert.equal(cacheStatusOf('tiercel', originRecord('pass', 'method', 201, false, null, null)), 'tiercel; fwd=method; fwd-status=201');
    assert.equal(cacheStatusOf('tiercel', originRecord('miss', 'uri-miss', 200, false, null, 'no-store')), 'tiercel; fwd=uri-miss; fwd-status=200; detail=no-store');
    assert.equal(cacheStatusOf('tiercel', synthRecord('synth', 'uri-miss', 'connect-error')), 'tiercel; fwd=uri-miss; detail=connect-error');
  });

  it('derives the outcome label the dashboards use', () => {
    assert.equal(outcomeOf('hit', false), 'hit');
    assert.equal(outcomeOf('stale', false), 'stale');
    assert.equal(outcomeOf('stale-if-error', true), 'stale');
    assert.equal(outcomeOf('revalidated', true), 'revalidated');
    assert.equal(outcomeOf('collapsed', true), 'miss');
    assert.equal(outcomeOf('miss', true), 'miss');
    assert.equal(outcomeOf('pass', true), 'miss', 'a HEAD or Range miss passed after a lookup');
    assert.equal(outcomeOf('pass', false), 'bypass', 'another method, never looked up');
    assert.equal(outcomeOf('purge', false), 'bypass');
    assert.equal(outcomeOf('synth', true), 'error');
  });

  it('says whether the cache was looked up and missed', () => {
    assert.equal(missed(hitRecord('hit', 'l1', 1)), false);
    assert.equal(missed(originRecord('pass', 'method', 200, false, null, null)), false);
    assert.equal(missed(originRecord('pass', 'uri-miss', 200, false, null, 'head')), true);
    assert.equal(missed(storedRecord('collapsed', 'l1', 'uri-miss', 200, 5, null)), true);
    assert.equal(missed(synthRecord('synth', 'bypass', 'client-denied')), false);
    assert.equal(missed(synthRecord('purge', 'bypass', 'purge')), false);
  });

  it('gives every record the same fields in the same order', () => {
    const shapes = new Set([
      hitRecord('hit', 'l1', 1), storedRecord('collapsed', 'l1', 'uri-miss', 200, 5, null),
      originRecord('miss', 'uri-miss', 200, true, 1, null), synthRecord('synth', 'bypass', 'x'),
    ].map((r) => Object.keys(r).join()));
    assert.equal(shapes.size, 1);
  });
});
