import { Controller, Get, Inject, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import { TELEMETRY_HANDLE } from '../config/config.module';
import type { TelemetryHandle } from './otel-sdk';

@Controller()
export class MetricsController {
  constructor(@Inject(TELEMETRY_HANDLE) private readonly telemetry: TelemetryHandle) {}

  /** Prometheus exposition of every instrument, on the admin port. */
  @Get('metrics')
  metrics(@Req() req: Request, @Res() res: Response): void {
    const exporter = this.telemetry.prometheus;
    if (exporter === null) {
      res.status(404).type('text/plain').send('metrics are off (METRICS_ENABLED=false or OTEL_SDK_DISABLED=true)\n');
      return;
    }
    exporter.getMetricsRequestHandler(req, res);
  }
}
