import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { requestSampler } from './request-sampler';

const share = (f: () => boolean, n = 20_000) => {
  let k = 0;
  for (let i = 0; i < n; i++) if (f()) k++;
  return k / n;
};

describe('requestSampler (OTEL_TRACES_SAMPLER, OTEL_TRACES_SAMPLER_ARG)', () => {
  it('defaults to parentbased_always_on: roots sampled, parents followed', () => {
    const s = requestSampler({});
    assert.equal(s.name, 'parentbased_always_on');
    assert.equal(s.root(), true);
    assert.equal(s.withParent(true), true);
    assert.equal(s.withParent(false), false);
  });

  it('parentbased_traceidratio samples about the ratio of roots and follows parents', () => {
    const s = requestSampler({ OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.1' });
    assert.equal(s.name, 'parentbased_traceidratio(0.1)');
    const r = share(() => s.root());
    assert.ok(r > 0.08 && r < 0.12, `sampled ${r}`);
    assert.equal(s.withParent(true), true);
    assert.equal(s.withParent(false), false);
  });

  it('traceidratio without parentbased decides by ratio even under a sampled parent', () => {
    const s = requestSampler({ OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '0' });
    assert.equal(s.root(), false);
    assert.equal(s.withParent(true), false);
  });

  it('always_off and parentbased_always_off', () => {
    assert.equal(requestSampler({ OTEL_TRACES_SAMPLER: 'always_off' }).withParent(true), false);
    const pb = requestSampler({ OTEL_TRACES_SAMPLER: 'parentbased_always_off' });
    assert.equal(pb.root(), false);
    assert.equal(pb.withParent(true), true);
  });

  it('falls back to the defaults for an unknown sampler or a ratio outside [0, 1]', () => {
    assert.equal(requestSampler({ OTEL_TRACES_SAMPLER: 'jaeger_remote' }).name, 'parentbased_always_on');
    const s = requestSampler({ OTEL_TRACES_SAMPLER: 'TraceIdRatio', OTEL_TRACES_SAMPLER_ARG: '7' });
    assert.equal(s.name, 'traceidratio(1)');
    assert.equal(s.root(), true);
  });
});
