import { Controller, Get, HttpStatus, Res } from '@nestjs/common';
import type { Response } from 'express';
import { TieredCache } from '../cache/tiered-cache';
import { InvalidationService } from '../invalidation/invalidation.service';
import { ProxyServer } from '../proxy/proxy.server';

@Controller()
export class HealthController {
  constructor(private readonly proxy: ProxyServer, private readonly cache: TieredCache, private readonly invalidation: InvalidationService) {}

  /** Liveness: the process answers. */
  @Get('healthz')
  healthz(): { status: 'ok' } {
    return { status: 'ok' };
  }

  /**
   * Readiness: the data port is accepting requests (not while draining at shutdown). A Redis
   * that is away does not make Tiercel unready: it serves from L1 and the origin, and says
   * L2 is degraded.
   */
  @Get('readyz')
  readyz(@Res({ passthrough: true }) res: Response): { status: string; l1: string; l2: string; invalidation: string } {
    const ready = this.proxy.listening;
    res.status(ready ? HttpStatus.OK : HttpStatus.SERVICE_UNAVAILABLE);
    const health = this.cache.health();
    const state = (name: string) => health.find((h) => h.name === name)?.state ?? 'disabled';
    const bus = this.invalidation.busStats();
    return { status: ready ? 'ready' : 'not-ready', l1: state('l1'), l2: state('l2'), invalidation: bus === null ? 'disabled' : bus.state };
  }
}
