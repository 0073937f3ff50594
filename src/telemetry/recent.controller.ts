import { Controller, Get, Res } from '@nestjs/common';
import type { Response } from 'express';
import { RecentRequests, RecentSnapshot } from './recent-requests';

@Controller('admin')
export class RecentController {
  constructor(private readonly recent: RecentRequests) {}

  /**
   * The status page's recent requests: the slowest of the last minutes, the last not stored
   * (with why) and the last failed. Read-only and without a token, like /stats; the fields
   * that may carry a secret stay on the tail (see RecentRequest).
   */
  @Get('recent')
  get(@Res({ passthrough: true }) res: Response): RecentSnapshot {
    res.setHeader('cache-control', 'no-store');
    return this.recent.snapshot();
  }
}
