import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { reasonOf, RecentRequests } from './recent-requests';
import type { AccessLine } from './request-telemetry';
import { RequestTail } from './request-tail';

function line(o: Partial<AccessLine> & { path: string }): AccessLine {
  return {
    method: 'GET',
    host: 'shop.example',
    url: `${o.path}?token=secret`,
    status: 200,
    outcome: 'hit',
    phase: 'hit',
    tier: 'l1',
    rule: undefined,
    cache_status: 'tiercel; hit; detail=l1; ttl=50',
    duration_ms: 1,
    l1_ms: 0.01,
    l2_ms: undefined,
    upstream: undefined,
    upstream_ms: undefined,
    bytes: 10,
    client: '192.0.2.7',
    user_agent: 'curl/8',
    aborted: undefined,
    ...o,
  };
}

function clock(start = 1_000_000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => void (t += ms) };
}

describe('RecentRequests', () => {
  it('watches the tail only between the first read and idleMs without one, and forgets then', () => {
    const tail = new RequestTail();
    const c = clock();
    const recent = new RecentRequests(tail, { idleMs: 30_000, now: c.now });
    assert.equal(tail.listening, false, 'nobody asked: the request path tests one boolean');
    tail.publish(line({ path: '/before', duration_ms: 500 }));
    assert.equal(recent.snapshot().slowest.length, 0, 'nothing from before the watch');
    assert.equal(tail.listening, true);
    tail.publish(line({ path: '/during', duration_ms: 500 }));
    c.advance(20_000);
    recent.sweep();
    assert.equal(tail.listening, true, 'read 20 s ago: still watching');
    assert.deepEqual(recent.snapshot().slowest.map((r) => r.path), ['/during']);
    c.advance(30_001);
    recent.sweep();
    assert.equal(tail.listening, false, 'unread for 30 s: the observer is gone');
    assert.equal(recent.watching, false);
    const again = recent.snapshot();
    assert.equal(again.slowest.length, 0, 'what was kept went with it');
    assert.equal(again.seen, 0);
    recent.stop();
    assert.equal(tail.listening, false);
  });

  it('keeps a stream listener counted apart: removing the observer leaves the tail listening', () => {
    const tail = new RequestTail();
    const recent = new RecentRequests(tail);
    const unsubscribe = tail.subscribe({ outcomes: null, statusMin: 100, statusMax: 599, minDurationMs: 0, host: null, path: null }, { write: () => true, writableLength: 0, drop: () => {} })!;
    recent.snapshot();
    recent.stop();
    assert.equal(tail.listening, true);
    unsubscribe();
    assert.equal(tail.listening, false);
  });

  it('lists the slowest of the window, slowest first, across buckets, and drops what is older', () => {
    const tail = new RequestTail();
    const c = clock(0);
    const recent = new RecentRequests(tail, { windowMs: 60_000, bucketMs: 10_000, perBucket: 3, keep: 5, now: c.now });
    recent.snapshot();
    // Bucket 1: ten requests, only the three slowest survive.
    for (const ms of [5, 90, 1, 70, 3, 80, 2, 4, 60, 6]) tail.publish(line({ path: `/a${ms}`, duration_ms: ms }));
    assert.deepEqual(recent.snapshot().slowest.map((r) => r.duration_ms), [90, 80, 70]);
    c.advance(10_000);
    for (const ms of [85, 10]) tail.publish(line({ path: `/b${ms}`, duration_ms: ms }));
    assert.deepEqual(recent.snapshot().slowest.map((r) => r.duration_ms), [90, 85, 80, 70, 10], 'keep 5');
    // The window is counted in whole buckets: the first (0-10 s) leaves it at 70 s.
    c.advance(59_999);
    assert.equal(recent.snapshot().slowest[0]!.duration_ms, 90);
    c.advance(1);
    tail.publish(line({ path: '/c', duration_ms: 7 }));
    assert.deepEqual(recent.snapshot().slowest.map((r) => r.duration_ms), [85, 10, 7]);
    recent.stop();
  });

  it('counts what was not stored by reason with the last few, and keeps the failures; hits and stored misses are neither', () => {
    const tail = new RequestTail();
    const recent = new RecentRequests(tail, { perReason: 2 });
    recent.snapshot();
    const origin = { tier: 'origin' as const, outcome: 'miss' as const, phase: 'miss' as const };
    tail.publish(line({ path: '/hit' }));
    tail.publish(line({ path: '/stored', ...origin, cache_status: 'tiercel; fwd=uri-miss; fwd-status=200; stored; ttl=60' }));
    tail.publish(line({ path: '/stored-cdn', ...origin, cache_status: 'tiercel; fwd=uri-miss; fwd-status=200; stored; ttl=60; detail=cdn-cache-control' }));
    for (let i = 0; i < 3; i++) tail.publish(line({ path: `/private/${i}`, ...origin, cache_status: 'tiercel; fwd=uri-miss; fwd-status=200; detail=private', trace_id: `t${i}` }));
    tail.publish(line({ path: '/rule', ...origin, outcome: 'bypass', phase: 'pass', cache_status: 'tiercel; fwd=bypass; fwd-status=200; detail=rule' }));
    tail.publish(line({ path: '/post', ...origin, method: 'POST', outcome: 'bypass', phase: 'pass', status: 201, cache_status: 'tiercel; fwd=method; fwd-status=201' }));
    tail.publish(line({ path: '/down', ...origin, status: 502, outcome: 'error', cache_status: 'tiercel; fwd=uri-miss; detail=connect-error' }));
    const s = recent.snapshot();
    assert.deepEqual(
      s.uncacheable.map((g) => [g.reason, g.count, g.last.map((r) => r.path)]),
      [
        ['private', 3, ['/private/2', '/private/1']],
        ['rule', 1, ['/rule']],
        ['method', 1, ['/post']],
      ],
    );
    assert.equal(s.uncacheable[0]!.last[0]!.trace_id, 't2');
    assert.deepEqual(s.errors.map((r) => [r.path, r.status]), [['/down', 502]], 'a failure is a failure, not a reason not to store');
    assert.equal(s.seen, 9);
    recent.stop();
  });

  it('leaves out the query string, the client address and the User-Agent', () => {
    const tail = new RequestTail();
    const recent = new RecentRequests(tail);
    recent.snapshot();
    tail.publish(line({ path: '/account', duration_ms: 9, trace_id: 'abc', rule: 'r1' }));
    const [r] = recent.snapshot().slowest;
    const text = JSON.stringify(r);
    assert.doesNotMatch(text, /secret|192\.0\.2\.7|curl/);
    assert.equal(r!.path, '/account');
    assert.equal(r!.trace_id, 'abc');
    assert.equal(r!.rule, 'r1');
    recent.stop();
  });

  it('reads the reason from Cache-Status: detail, else fwd', () => {
    assert.equal(reasonOf('tiercel; fwd=uri-miss; fwd-status=200; detail=no-store'), 'no-store');
    assert.equal(reasonOf('tiercel; fwd=method; fwd-status=201'), 'method');
    assert.equal(reasonOf('tiercel; fwd=bypass; detail="odd token"'), 'odd token');
    assert.equal(reasonOf('tiercel; hit'), null);
  });
});
