import { isSpanContextValid, type Span } from '@opentelemetry/api';

/**
 * trace_id and span_id for a log line, only when the span belongs to a real trace: with
 * tracing off or the request unsampled there is none, and a line of zeros would send someone
 * looking for a trace that does not exist.
 */
export function spanTraceFields(span: Span | null | undefined): { trace_id?: string; span_id?: string } {
  if (span == null) return {};
  const sc = span.spanContext();
  if (!isSpanContextValid(sc)) return {};
  return { trace_id: sc.traceId, span_id: sc.spanId };
}
