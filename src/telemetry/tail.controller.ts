import { BadRequestException, Controller, ForbiddenException, Get, Headers, Inject, Query, Req, Res, ServiceUnavailableException, UnauthorizedException } from '@nestjs/common';
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Request, Response } from 'express';
import type { TiercelConfig } from '../config/config';
import { TIERCEL_CONFIG } from '../config/config.module';
import { parseTailFilter, RequestTail, TailFilter, TailFilterError } from './request-tail';

@Controller('admin')
export class TailController {
  private readonly tokenDigest: Buffer | null;

  constructor(@Inject(TIERCEL_CONFIG) config: TiercelConfig, private readonly tail: RequestTail) {
    this.tokenDigest = config.admin.token === null ? null : digest(config.admin.token);
  }

  /** The live request tail: one JSON line per finished request passing the filter, until the client leaves. */
  @Get('tail')
  stream(@Headers('authorization') authorization: string | undefined, @Query() query: Record<string, unknown>, @Req() req: Request, @Res() res: Response): void {
    this.authorize(authorization);
    let filter: TailFilter;
    try {
      filter = parseTailFilter(query);
    } catch (err) {
      if (err instanceof TailFilterError) throw new BadRequestException(err.message);
      throw err;
    }
    const unsubscribe = this.tail.subscribe(filter, {
      write: (chunk) => res.write(chunk),
      get writableLength() {
        return res.writableLength;
      },
      drop: () => res.destroy(),
    });
    if (unsubscribe === null) throw new ServiceUnavailableException(`${this.tail.maxListeners} tail listeners already`);
    res.status(200);
    res.setHeader('content-type', 'application/x-ndjson');
    res.setHeader('cache-control', 'no-store');
    res.flushHeaders();
    req.socket.setNoDelay(true);
    res.once('close', unsubscribe);
  }

  private authorize(header: string | undefined): void {
    if (this.tokenDigest === null) throw new ForbiddenException('the tail is disabled: set ADMIN_TOKEN and send "Authorization: Bearer <token>"');
    const m = /^Bearer\s+(.+)$/i.exec(header ?? '');
    if (!m || !timingSafeEqual(digest(m[1]!.trim()), this.tokenDigest)) {
      throw new UnauthorizedException('a valid "Authorization: Bearer <ADMIN_TOKEN>" header is required');
    }
  }
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}
