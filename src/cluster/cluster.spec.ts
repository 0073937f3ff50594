import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mergeStats } from './admin-gateway';
import { mergeExpositions } from './metrics-merge';
import { LeaseTable } from './peer.tier';
import { Rpc } from './rpc';
import { cgroupCpuLimit, parseWorkers } from './workers-setting';
import { ConfigError } from '../config/parse';

describe('WORKERS', () => {
  it('takes 1 to 256 or auto, and refuses the rest naming the accepted form', () => {
    assert.equal(parseWorkers('WORKERS', ' 4 '), 4);
    assert.ok(parseWorkers('WORKERS', 'AUTO') >= 1);
    for (const bad of ['0', '-1', '257', '2.5', 'two', '']) assert.throws(() => parseWorkers('WORKERS', bad), (e: unknown) => e instanceof ConfigError && /auto, or an integer from 1 to 256/.test((e as Error).message));
  });

  it('reads a container CPU limit from cgroup v2 or v1, rounding up', () => {
    const files = (m: Record<string, string>) => (p: string) => m[p] ?? null;
    assert.equal(cgroupCpuLimit(files({ '/sys/fs/cgroup/cpu.max': '150000 100000\n' })), 2);
    assert.equal(cgroupCpuLimit(files({ '/sys/fs/cgroup/cpu.max': 'max 100000\n' })), null);
    assert.equal(cgroupCpuLimit(files({ '/sys/fs/cgroup/cpu/cpu.cfs_quota_us': '400000', '/sys/fs/cgroup/cpu/cpu.cfs_period_us': '100000' })), 4);
    assert.equal(cgroupCpuLimit(files({ '/sys/fs/cgroup/cpu/cpu.cfs_quota_us': '-1', '/sys/fs/cgroup/cpu/cpu.cfs_period_us': '100000' })), null);
    assert.equal(cgroupCpuLimit(files({})), null);
  });
});

describe('mergeExpositions', () => {
  const w1 = [
    '# HELP tiercel_requests Requests',
    '# TYPE tiercel_requests counter',
    'tiercel_requests_total{tier="l1",outcome="hit"} 10',
    'tiercel_requests_total{tier="none",outcome="miss"} 2',
    '# HELP nodejs_eventloop_delay_max_seconds Max delay',
    '# TYPE nodejs_eventloop_delay_max_seconds gauge',
    'nodejs_eventloop_delay_max_seconds{otel_scope_name="rt"} 0.01',
    '# HELP tiercel_build_info Build',
    '# TYPE tiercel_build_info gauge',
    'tiercel_build_info{version="0.1.0"} 1',
    '# HELP d Duration',
    '# TYPE d histogram',
    'd_bucket{le="0.1"} 3',
    'd_bucket{le="+Inf"} 4',
    'd_sum 0.5',
    'd_count 4',
    'g{path="a b } c"} 1',
    '',
  ].join('\n');
  const w2 = w1.replace(' 10\n', ' 5\n').replace('0.01', '0.2').replace('d_bucket{le="+Inf"} 4', 'd_bucket{le="+Inf"} 6');

  it('adds counters and histograms, keeps runtime health per worker, takes the largest of what every worker reports alike', () => {
    const out = mergeExpositions([w1, w2], [1, 2]);
    assert.match(out, /^tiercel_requests_total\{tier="l1",outcome="hit"\} 15$/m);
    assert.match(out, /^tiercel_requests_total\{tier="none",outcome="miss"\} 4$/m);
    assert.match(out, /^nodejs_eventloop_delay_max_seconds\{otel_scope_name="rt",worker="1"\} 0.01$/m);
    assert.match(out, /^nodejs_eventloop_delay_max_seconds\{otel_scope_name="rt",worker="2"\} 0.2$/m);
    assert.match(out, /^tiercel_build_info\{version="0.1.0"\} 1$/m);
    assert.match(out, /^d_bucket\{le="\+Inf"\} 10$/m);
    assert.match(out, /^d_count 8$/m);
    assert.match(out, /^g\{path="a b \} c"\} 2$/m);
    assert.equal(out.split('\n').filter((l) => l === '# TYPE tiercel_requests counter').length, 1);
  });

  it('ends OpenMetrics with one # EOF, after the primary\'s own series', () => {
    const out = mergeExpositions([`${w1}# EOF\n`, `${w2}# EOF\n`], [1, 2], '# TYPE tiercel_workers gauge\ntiercel_workers{state="serving"} 2\n');
    assert.equal(out.match(/# EOF/g)?.length, 1);
    assert.ok(out.endsWith('tiercel_workers{state="serving"} 2\n# EOF\n'));
  });
});

describe('mergeStats', () => {
  it('adds counts, says the worst state, keeps the first policy and the largest sequence', () => {
    const a = { hits: 2, l1: { entries: 1, capacityBytes: 10 }, l2: { state: 'ok', connection: 'ready' }, bus: { sequence: 7, received: 3, state: 'ok' }, policy: { hash: 'x' }, tail: { listeners: 1 } };
    const b = { hits: 3, l1: { entries: 4, capacityBytes: 10 }, l2: { state: 'degraded', connection: 'ready' }, bus: { sequence: 9, received: 3, state: 'ok' }, policy: { hash: 'y' }, tail: { listeners: 1 } };
    assert.deepEqual(mergeStats([a, b]), {
      hits: 5,
      l1: { entries: 5, capacityBytes: 20 },
      l2: { state: 'degraded', connection: 'ready' },
      bus: { sequence: 9, received: 3, state: 'ok' },
      policy: { hash: 'x' },
      tail: { listeners: 1 },
    });
    assert.deepEqual(mergeStats([{ l2: null }, { l2: null }]), { l2: null });
  });
});

describe('LeaseTable', () => {
  it('gives a key to one holder at a time, released only by its token, dropped with its worker or its time', async () => {
    const t = new LeaseTable();
    assert.equal(t.acquire(1, 'k', 'a', 1000), true);
    assert.equal(t.acquire(2, 'k', 'b', 1000), false);
    t.release('k', 'b');
    assert.equal(t.isHeld('k'), true);
    t.release('k', 'a');
    assert.equal(t.isHeld('k'), false);
    assert.equal(t.acquire(2, 'k', 'b', 1000), true);
    t.dropWorker(2);
    assert.equal(t.isHeld('k'), false);
    assert.equal(t.acquire(1, 'short', 'c', 20), true);
    await new Promise((r) => setTimeout(r, 40));
    assert.equal(t.acquire(2, 'short', 'd', 1000), true, 'an expired lease is taken over');
  });
});

describe('Rpc', () => {
  it('answers calls, carries handler errors back, bounds a call nobody answers, and ignores foreign messages', async () => {
    let a!: Rpc;
    let b!: Rpc;
    a = new Rpc((m) => void setImmediate(() => b.receive(m)));
    b = new Rpc((m) => void setImmediate(() => a.receive(m)));
    b.handle('double', (x: number) => x * 2);
    b.handle('later', async (x: number) => x + 1);
    b.handle('fail', () => {
      throw new Error('nope');
    });
    assert.equal(await a.call('double', 21, 1000), 42);
    assert.equal(await a.call('later', 1, 1000), 2);
    await assert.rejects(a.call('fail', null, 1000), /nope/);
    await assert.rejects(a.call('missing', null, 1000), /unknown operation missing/);
    const silent = new Rpc(() => {});
    await assert.rejects(silent.call('x', null, 30), /no answer within 30 ms/);
    assert.equal(a.receive({ cmd: 'NODE_CLUSTER' }), false);
    assert.equal(a.receive('text'), false);
    const closing = new Rpc(() => {});
    const p = closing.call('x', null, 5000);
    closing.close();
    await assert.rejects(p, /closed/);
  });
});
