import type { MetricData, ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { DataPointType } from '@opentelemetry/sdk-metrics';

/**
 * The unit suffixes of the OpenTelemetry-to-Prometheus compatibility rules
 * (opentelemetry-specification, "Prometheus and OpenMetrics Compatibility", Metric Metadata):
 * the UCUM unit of an instrument becomes its Prometheus name's suffix, in base units
 * (`s` → `_seconds`, `By` → `_bytes`), `{annotations}` are dropped, and a gauge of unit `1`
 * is a `_ratio`. @opentelemetry/exporter-prometheus writes the `# UNIT` line but does not add
 * the suffix; this adds it before its serializer runs, so every instrument (Tiercel's, the
 * runtime's, the process's) is named by its unit alone and no name repeats a unit by hand.
 */
const UNIT_WORDS: Record<string, string> = {
  s: 'seconds',
  ms: 'milliseconds',
  us: 'microseconds',
  ns: 'nanoseconds',
  By: 'bytes',
  KiBy: 'kibibytes',
  MiBy: 'mebibytes',
  bit: 'bits',
  Hz: 'hertz',
  '%': 'percent',
};

export function unitSuffix(unit: string, data: Pick<MetricData, 'dataPointType'>): string {
  const u = unit.replace(/\{[^}]*\}/g, '').trim();
  if (u === '') return '';
  if (u === '1') return data.dataPointType === DataPointType.GAUGE ? 'ratio' : '';
  const [num, per] = u.split('/', 2) as [string, string | undefined];
  const word = (x: string) => UNIT_WORDS[x] ?? x.replace(/[^a-zA-Z0-9]/g, '_');
  if (num === '' || num === '1') return per ? `per_${word(per)}` : '';
  return per ? `${word(num)}_per_${word(per)}` : word(num);
}

/**
 * Units the semantic conventions give these instruments, for libraries that create them
 * without one (instrumentation-host-metrics 0.7: process.memory.usage and the utilizations).
 */
const SEMCONV_UNITS: Record<string, string> = {
  'process.memory.usage': 'By',
  'process.cpu.utilization': '1',
};

/** The Prometheus name of an instrument (before `_total`): dots and other characters become `_`, the unit suffix added once. */
export function prometheusName(name: string, unit: string, data: Pick<MetricData, 'dataPointType'>): string {
  const base = name.replace(/[^a-zA-Z0-9_:]/g, '_').replace(/_+/g, '_');
  const suffix = unitSuffix(unit, data);
  if (suffix === '' || base.endsWith(`_${suffix}`) || base.endsWith(`_${suffix}_total`)) return base;
  return base.endsWith('_total') ? `${base.slice(0, -'_total'.length)}_${suffix}_total` : `${base}_${suffix}`;
}

/** A copy of the collected metrics with every instrument renamed by its unit. */
export function withUnitSuffixes(rm: ResourceMetrics): ResourceMetrics {
  return {
    resource: rm.resource,
    scopeMetrics: rm.scopeMetrics.map((sm) => ({
      scope: sm.scope,
      metrics: sm.metrics.map((m) => {
        const unit = m.descriptor.unit || (SEMCONV_UNITS[m.descriptor.name] ?? '');
        // `# UNIT` carries the suffix word (OpenMetrics: the name ends with the unit), not UCUM.
        return { ...m, descriptor: { ...m.descriptor, unit: unitSuffix(unit, m), name: prometheusName(m.descriptor.name, unit, m) } } as MetricData;
      }),
    })),
  };
}
