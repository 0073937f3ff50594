import { Controller, Get, Inject, Req, Res } from '@nestjs/common';
import { PrometheusSerializer } from '@opentelemetry/exporter-prometheus';
import type { Request, Response } from 'express';
import { TELEMETRY_HANDLE } from '../config/config.module';
import type { TelemetryHandle } from './otel-sdk';
import { OPENMETRICS_CONTENT_TYPE, serializeOpenMetrics } from './openmetrics';
import { withUnitSuffixes } from './prometheus-names';

@Controller()
export class MetricsController {
  private readonly serializer = new PrometheusSerializer('', false);

  constructor(@Inject(TELEMETRY_HANDLE) private readonly telemetry: TelemetryHandle) {}

  /** Prometheus exposition of every instrument, on the admin port, each named by its unit. */
  @Get('metrics')
  async metrics(@Req() req: Request, @Res() res: Response): Promise<void> {
    const exporter = this.telemetry.prometheus;
    if (exporter === null) {
      res.status(404).type('text/plain').send('metrics are off (METRICS_ENABLED=false or OTEL_SDK_DISABLED=true)\n');
      return;
    }
    // OpenMetrics (with exemplars) only when asked for: Prometheus sends it first in Accept.
    const openMetrics = /application\/openmetrics-text/i.test(req.headers.accept ?? '');
    let text: string;
    try {
      const { resourceMetrics } = await exporter.collect();
      const named = withUnitSuffixes(resourceMetrics);
      const hot = this.telemetry.hot;
      text = openMetrics ? serializeOpenMetrics(named, (a) => hot?.exemplarsOf(a) ?? null) : this.serializer.serialize(named);
    } catch (err) {
      res.status(500).type('text/plain').send(`# failed to collect metrics: ${String(err)}\n`);
      return;
    }
    res.status(200).setHeader('content-type', openMetrics ? OPENMETRICS_CONTENT_TYPE : 'text/plain; version=0.0.4; charset=utf-8');
    res.setHeader('vary', 'accept');
    res.end(text);
  }
}
