import { Controller, Get, HttpStatus, Res } from '@nestjs/common';
import type { Response } from 'express';
import { ProxyServer } from '../proxy/proxy.server';

@Controller()
export class HealthController {
  constructor(private readonly proxy: ProxyServer) {}

  /** Liveness: the process answers. */
  @Get('healthz')
  healthz(): { status: 'ok' } {
    return { status: 'ok' };
  }

  /** Readiness: the data port is accepting requests (false while draining at shutdown). */
  @Get('readyz')
  readyz(@Res({ passthrough: true }) res: Response): { status: string; l1: string } {
    const ready = this.proxy.listening;
    res.status(ready ? HttpStatus.OK : HttpStatus.SERVICE_UNAVAILABLE);
    return { status: ready ? 'ready' : 'not-ready', l1: 'ok' };
  }
}
