import { diag, DiagLogLevel } from '@opentelemetry/api';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { HostMetricsInstrumentation } from '@opentelemetry/instrumentation-host-metrics';
import { RuntimeNodeInstrumentation } from '@opentelemetry/instrumentation-runtime-node';
import { detectResources, envDetector, hostDetector, osDetector, processDetector, resourceFromAttributes } from '@opentelemetry/resources';
import { NodeSDK } from '@opentelemetry/sdk-node';
import { AlwaysOnSampler } from '@opentelemetry/sdk-trace';
import type { Logger } from 'pino';
import { TIERCEL_VERSION } from '../common/version';
import type { TiercelConfig } from '../config/config';
import { HotPathMetrics } from './hot-path-metrics';

/** What main hands to the app: the Prometheus reader to serve on /metrics, and how to stop. */
export interface TelemetryHandle {
  prometheus: PrometheusExporter | null;
  /** Per-request metrics, collected by the Prometheus reader; null when metrics are off. */
  hot: HotPathMetrics | null;
  /** Whether a tracer provider is registered (OTEL_TRACES_EXPORTER is not `none`). */
  tracing: boolean;
  shutdown(): Promise<void>;
}

export const NO_TELEMETRY: TelemetryHandle = { prometheus: null, hot: null, tracing: false, shutdown: async () => {} };

/**
 * Starts the OpenTelemetry SDK before Nest bootstraps. The standard OTEL_* variables apply
 * (service name, resource attributes, sampler, OTLP endpoint and protocol, OTEL_SDK_DISABLED).
 * Two defaults differ from the SDK's: traces are exported only when an OTLP endpoint or
 * OTEL_TRACES_EXPORTER is given (no errors every few seconds about a collector nobody runs),
 * and metrics go to the Prometheus reader served on the admin port, not to OTLP.
 */
export async function startTelemetry(config: TiercelConfig, log: Logger, env: NodeJS.ProcessEnv = process.env): Promise<TelemetryHandle> {
  if (config.telemetry.sdkDisabled) return NO_TELEMETRY;
  const endpoint = env.OTEL_EXPORTER_OTLP_ENDPOINT || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT;
  env.OTEL_TRACES_EXPORTER ??= endpoint ? 'otlp' : 'none';
  env.OTEL_LOGS_EXPORTER ??= 'none';
  env.OTEL_METRICS_EXPORTER ??= 'none';
  diag.setLogger(
    {
      error: (msg, ...args) => log.error({ otel: args }, msg),
      // Traces off is Tiercel's default, not something to warn about at every start.
      warn: (msg, ...args) => {
        if (!/OTEL_TRACES_EXPORTER contains "none"/.test(msg)) log.warn({ otel: args }, msg);
      },
      info: () => {},
      debug: () => {},
      verbose: () => {},
    },
    DiagLogLevel.WARN,
  );
  const hot = config.telemetry.metrics ? new HotPathMetrics() : null;
  const prometheus = hot ? new PrometheusExporter({ preventServerStart: true, metricProducers: [hot] }) : null;
  // Not the random service.instance.id detector: the instance is INSTANCE_ID, the name in logs and on dashboards.
  // OTEL_RESOURCE_ATTRIBUTES (envDetector) still overrides anything here. The detectors' async
  // attributes (host.id) are awaited here, before any reader can ask for them: a scrape
  // that came first used to log 'Accessing resource attributes before async attributes settled'.
  const resource = resourceFromAttributes({ 'service.instance.id': config.instanceId, 'service.version': TIERCEL_VERSION })
    .merge(detectResources({ detectors: [hostDetector, osDetector, processDetector, envDetector] }));
  await resource.waitForAsyncAttributes?.();
  const sdk = new NodeSDK({
    serviceName: env.OTEL_SERVICE_NAME ? undefined : 'tiercel',
    resource,
    autoDetectResources: false,
    metricReaders: prometheus ? [prometheus] : undefined,
    // Runtime and process health from OpenTelemetry's own instrumentations: event-loop delay
    // and utilization, V8 heap and GC durations (nodejs.*, v8js.*), and the process's CPU time
    // and memory (process.*). Only the process groups of host-metrics: the host's own CPU,
    // memory and network belong to node_exporter.
    instrumentations: prometheus
      ? [new RuntimeNodeInstrumentation({ monitoringPrecision: 10 }), new HostMetricsInstrumentation({ metricGroups: ['process.cpu', 'process.memory'] })]
      : [],
    // Tiercel decides sampling per request before creating a span (request-sampler.ts, from
    // OTEL_TRACES_SAMPLER): every span it starts is one it keeps.
    sampler: new AlwaysOnSampler(),
  });
  sdk.start();
  const tracing = env.OTEL_TRACES_EXPORTER.split(',').some((e) => e.trim() && e.trim() !== 'none');
  return { prometheus, hot, tracing, shutdown: () => sdk.shutdown() };
}
