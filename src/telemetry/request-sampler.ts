/**
 * The sampling decision for a request, taken before any span object exists, from the standard
 * OTEL_TRACES_SAMPLER / OTEL_TRACES_SAMPLER_ARG. An unsampled request then costs a header check
 * and a random number, not a span, an id and a context; the SDK's own sampler is always-on
 * because Tiercel only starts the spans it has decided to keep.
 *
 * Supported: always_on, always_off, traceidratio, parentbased_always_on (the default),
 * parentbased_always_off, parentbased_traceidratio. Anything else falls back to the default.
 */
export interface RequestSampler {
  readonly name: string;
  /** The decision for a request without a (valid) parent. */
  root(): boolean;
  /** The decision for a request whose client sent a parent with this sampled flag. */
  withParent(parentSampled: boolean): boolean;
}

const SUPPORTED = ['always_on', 'always_off', 'traceidratio', 'parentbased_always_on', 'parentbased_always_off', 'parentbased_traceidratio'];

export function requestSampler(env: Record<string, string | undefined>): RequestSampler {
  const raw = (env.OTEL_TRACES_SAMPLER ?? '').trim().toLowerCase();
  const name = SUPPORTED.includes(raw) ? raw : 'parentbased_always_on';
  const argRaw = Number(env.OTEL_TRACES_SAMPLER_ARG);
  // The spec's default ratio is 1.0; values outside [0, 1] are invalid and fall back to it.
  const ratio = Number.isFinite(argRaw) && argRaw >= 0 && argRaw <= 1 && env.OTEL_TRACES_SAMPLER_ARG?.trim() ? argRaw : 1;
  const base = name.replace(/^parentbased_/, '');
  const root = base === 'always_on' ? () => true : base === 'always_off' ? () => false : () => Math.random() < ratio;
  const parentBased = name.startsWith('parentbased_');
  return {
    name: base === 'traceidratio' ? `${name}(${ratio})` : name,
    root,
    withParent: parentBased ? (sampled) => sampled : root,
  };
}
