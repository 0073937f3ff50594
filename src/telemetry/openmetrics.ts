import type { Attributes, AttributeValue } from '@opentelemetry/api';
import type { Resource } from '@opentelemetry/resources';
import { DataPoint, DataPointType, Histogram, MetricData, ResourceMetrics } from '@opentelemetry/sdk-metrics';
import type { Exemplar } from './hot-path-metrics';

/**
 * The OpenMetrics 1.0 text format (https://prometheus.io/docs/specs/om/open_metrics_spec/),
 * served when a scraper asks for it: the same families, names and labels as the Prometheus
 * text format the OpenTelemetry exporter writes, plus exemplars on histogram buckets, which
 * that format cannot carry and the exporter does not produce. Input: metrics already renamed
 * by withUnitSuffixes (names end in their unit; `# UNIT` is the suffix word).
 */
export const OPENMETRICS_CONTENT_TYPE = 'application/openmetrics-text; version=1.0.0; charset=utf-8';

/** Exemplars of a histogram data point, by bucket index (null: none). */
export type ExemplarsOf = (attributes: Attributes) => readonly (Exemplar | undefined)[] | null;

function labelName(k: string): string {
  const s = k.replace(/[^a-zA-Z0-9_]/g, '_');
  return /^[0-9]/.test(s) ? `_${s}` : s;
}

function escapeValue(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function attrString(v: AttributeValue | undefined): string {
  if (v === undefined || v === null) return '';
  return Array.isArray(v) ? JSON.stringify(v) : String(v);
}

function labels(pairs: [string, string][]): string {
  if (pairs.length === 0) return '';
  return `{${pairs.map(([k, v]) => `${k}="${escapeValue(v)}"`).join(',')}}`;
}

function num(v: number): string {
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  if (Number.isNaN(v)) return 'NaN';
  return String(v);
}

function pairsOf(attributes: Attributes, scope: [string, string][]): [string, string][] {
  const out: [string, string][] = [];
  for (const k of Object.keys(attributes)) out.push([labelName(k), attrString(attributes[k])]);
  return out.concat(scope);
}

function exemplarText(e: Exemplar | undefined): string {
  if (e === undefined) return '';
  return ` # {trace_id="${e.traceId}",span_id="${e.spanId}"} ${num(e.value)} ${(e.timeMs / 1000).toFixed(3)}`;
}

function family(m: MetricData, scope: [string, string][], exemplarsOf: ExemplarsOf): string {
  const d = m.descriptor;
  const lines: string[] = [];
  let type: string;
  let name = d.name;
  const monotonic = m.dataPointType === DataPointType.SUM && m.isMonotonic;
  if (monotonic) {
    type = 'counter';
    if (name.endsWith('_total')) name = name.slice(0, -'_total'.length);
  } else if (m.dataPointType === DataPointType.HISTOGRAM) type = 'histogram';
  else if (m.dataPointType === DataPointType.EXPONENTIAL_HISTOGRAM) return '';
  else type = 'gauge';
  lines.push(`# TYPE ${name} ${type}`);
  if (d.unit) lines.push(`# UNIT ${name} ${d.unit}`);
  if (d.description) lines.push(`# HELP ${name} ${d.description.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}`);
  if (type === 'histogram') {
    for (const p of m.dataPoints as DataPoint<Histogram>[]) {
      const base = pairsOf(p.attributes, scope);
      const { boundaries, counts } = p.value.buckets;
      const ex = exemplarsOf(p.attributes);
      let cumulative = 0;
      for (let i = 0; i < counts.length; i++) {
        cumulative += counts[i]!;
        const le = i < boundaries.length ? num(boundaries[i]!) : '+Inf';
        lines.push(`${name}_bucket${labels([...base, ['le', le]])} ${cumulative}${exemplarText(ex?.[i])}`);
      }
      lines.push(`${name}_count${labels(base)} ${p.value.count}`);
      lines.push(`${name}_sum${labels(base)} ${num(p.value.sum ?? 0)}`);
    }
  } else {
    for (const p of m.dataPoints as DataPoint<number>[]) lines.push(`${name}${monotonic ? '_total' : ''}${labels(pairsOf(p.attributes, scope))} ${num(p.value)}`);
  }
  return lines.join('\n');
}

function targetInfo(resource: Resource): string {
  const pairs = Object.entries(resource.attributes).map(([k, v]) => [labelName(k), attrString(v)] as [string, string]);
  return `# TYPE target info\n# HELP target Target metadata\ntarget_info${labels(pairs)} 1`;
}

export function serializeOpenMetrics(rm: ResourceMetrics, exemplarsOf: ExemplarsOf): string {
  const parts = [targetInfo(rm.resource)];
  const seen = new Set<string>();
  for (const sm of rm.scopeMetrics) {
    const scope: [string, string][] = [['otel_scope_name', sm.scope.name]];
    if (sm.scope.version) scope.push(['otel_scope_version', sm.scope.version]);
    for (const m of sm.metrics) {
      // One family per name in OpenMetrics: a second scope with the same instrument name is skipped, as the text exporter merges it.
      if (seen.has(m.descriptor.name) || m.dataPoints.length === 0) continue;
      seen.add(m.descriptor.name);
      const f = family(m, scope, exemplarsOf);
      if (f) parts.push(f);
    }
  }
  return `${parts.join('\n')}\n# EOF\n`;
}
