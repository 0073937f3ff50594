import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { FillLeases } from '../cache/cache-tier';
import { Acquired, FillLock } from './fill-lock';

const options = { waitTimeoutMs: 200, maxWaiters: 2, hitForPassMs: 1000, instanceId: 'i1', pollMs: 5 };

function leader(a: Acquired | Promise<Acquired>): Extract<Acquired, { role: 'leader' }> {
  assert.ok(!(a instanceof Promise) && a.role === 'leader', 'expected a leader');
  return a as Extract<Acquired, { role: 'leader' }>;
}

describe('FillLock on one instance', () => {
  it('makes the first request leader and the next followers of its outcome', async () => {
    const lock = new FillLock(options, null);
    const l = leader(lock.acquire('k', 'k', undefined));
    const f = lock.acquire('k', 'k', undefined);
    assert.ok(!(f instanceof Promise) && f.role === 'follower');
    assert.equal(l.permit.waiting, 1);
    assert.equal(lock.busy('k'), true);
    l.permit.settle({ stored: true, failure: null });
    assert.deepEqual(await (f as Extract<Acquired, { role: 'follower' }>).outcome, { stored: true, failure: null });
    assert.equal(lock.busy('k'), false);
    assert.equal(l.permit.waiting, 0);
  });

  it('settles once: a second settle changes nothing', async () => {
    const lock = new FillLock(options, null);
    const l = leader(lock.acquire('k', 'k', undefined));
    const f = lock.acquire('k', 'k', undefined) as Extract<Acquired, { role: 'follower' }>;
    l.permit.settle({ stored: false, failure: { status: 503, reason: 'origin-error' } });
    l.permit.settle({ stored: true, failure: null });
    assert.equal(l.permit.settled, true);
    assert.deepEqual(await f.outcome, { stored: false, failure: { status: 503, reason: 'origin-error' } });
    // The key is free again: the next request leads a new fill.
    leader(lock.acquire('k', 'k', undefined));
  });

  it('lets requests past the waiter limit fetch alone', () => {
    const lock = new FillLock(options, null);
    leader(lock.acquire('k', 'k', undefined));
    lock.acquire('k', 'k', undefined);
    lock.acquire('k', 'k', undefined);
    assert.deepEqual(lock.acquire('k', 'k', undefined), { role: 'alone' });
  });

  it('wakes a follower with timeout when the fill takes longer than the wait limit', async () => {
    const lock = new FillLock(options, null);
    leader(lock.acquire('k', 'k', undefined));
    const f = lock.acquire('k', 'k', undefined) as Extract<Acquired, { role: 'follower' }>;
    assert.equal(await f.outcome, 'timeout');
  });
});

/** Leases held in a Map, as Redis would hold them: one holder per key, released by its token only. */
function memoryLeases(): FillLeases & { holders: Map<string, string> } {
  const holders = new Map<string, string>();
  return {
    holders,
    leaseMs: 1000,
    async acquire(k, token) {
      if (holders.has(k)) return false;
      holders.set(k, token);
      return true;
    },
    release(k, token) {
      if (holders.get(k) === token) holders.delete(k);
    },
    async held(k) {
      return holders.has(k);
    },
  };
}

describe('FillLock across instances', () => {
  it('takes the lease as leader and releases it with its own token on settle', async () => {
    const leases = memoryLeases();
    const lock = new FillLock(options, leases);
    const a = await lock.acquire('k', 'k', undefined);
    assert.equal(a.role, 'leader');
    assert.match(leases.holders.get('k')!, /^i1:/);
    (a as Extract<Acquired, { role: 'leader' }>).permit.settle({ stored: true, failure: null });
    assert.equal(leases.holders.has('k'), false);
  });

  it('never releases a lease another holder took after its own expired', async () => {
    const leases = memoryLeases();
    const lock = new FillLock(options, leases);
    const a = (await lock.acquire('k', 'k', undefined)) as Extract<Acquired, { role: 'leader' }>;
    leases.holders.set('k', 'other-instance:1');
    a.permit.settle({ stored: true, failure: null });
    assert.equal(leases.holders.get('k'), 'other-instance:1');
  });

  it('follows another instance\'s fill until its lease goes, every local request with it', async () => {
    const leases = memoryLeases();
    leases.holders.set('k', 'other-instance:1');
    const lock = new FillLock(options, leases);
    const first = await lock.acquire('k', 'k', undefined);
    const second = await lock.acquire('k', 'k', undefined);
    assert.equal(first.role, 'follower');
    assert.equal(second.role, 'follower');
    setTimeout(() => leases.holders.delete('k'), 30);
    const outcomes = await Promise.all([first, second].map((f) => (f as Extract<Acquired, { role: 'follower' }>).outcome));
    assert.deepEqual(outcomes, [{ stored: false, failure: null }, { stored: false, failure: null }]);
  });

  it('leads alone when leases cannot be had (Redis away)', async () => {
    const leases = { ...memoryLeases(), acquire: async () => 'unavailable' as const };
    const lock = new FillLock(options, leases);
    assert.equal((await lock.acquire('k', 'k', undefined)).role, 'leader');
  });
});
