import { Controller, Get, Inject, Req, Res } from '@nestjs/common';
import { PrometheusSerializer } from '@opentelemetry/exporter-prometheus';
import type { Request, Response } from 'express';
import { TELEMETRY_HANDLE } from '../config/config.module';
import type { TelemetryHandle } from './otel-sdk';
import { withUnitSuffixes } from './prometheus-names';

@Controller()
export class MetricsController {
  private readonly serializer = new PrometheusSerializer('', false);

  constructor(@Inject(TELEMETRY_HANDLE) private readonly telemetry: TelemetryHandle) {}

  /** Prometheus exposition of every instrument, on the admin port, each named by its unit. */
  @Get('metrics')
  async metrics(@Req() _req: Request, @Res() res: Response): Promise<void> {
    const exporter = this.telemetry.prometheus;
    if (exporter === null) {
      res.status(404).type('text/plain').send('metrics are off (METRICS_ENABLED=false or OTEL_SDK_DISABLED=true)\n');
      return;
    }
    let text: string;
    try {
      const { resourceMetrics } = await exporter.collect();
      text = this.serializer.serialize(withUnitSuffixes(resourceMetrics));
    } catch (err) {
      res.status(500).type('text/plain').send(`# failed to collect metrics: ${String(err)}\n`);
      return;
    }
    res.status(200).setHeader('content-type', 'text/plain; version=0.0.4; charset=utf-8');
    res.end(text);
  }
}
