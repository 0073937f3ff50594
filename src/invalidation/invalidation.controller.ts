import { Body, Controller, ForbiddenException, Headers, HttpCode, Inject, Post, UnauthorizedException, BadRequestException } from '@nestjs/common';
import { createHash, timingSafeEqual } from 'node:crypto';
import type { TiercelConfig } from '../config/config';
import { TIERCEL_CONFIG } from '../config/config.module';
import { InvalidationRequestError, parseInvalidationRequest } from './invalidation-request';
import { InvalidationOutcome, InvalidationService } from './invalidation.service';
import { normalizePath } from '../policy/cache-key';
import { keyInPolicy } from '../policy/policy';
import { POLICY, PolicyService } from '../policy/policy.service';

@Controller('admin')
export class InvalidationController {
  private readonly tokenDigest: Buffer | null;

  constructor(
    @Inject(TIERCEL_CONFIG) config: TiercelConfig,
    private readonly invalidation: InvalidationService,
    @Inject(POLICY) private readonly policy: PolicyService,
  ) {
    this.tokenDigest = config.admin.token ? digest(config.admin.token) : null;
  }

  /** Invalidates by urls, pattern, tags or all, in every tier and on every instance. */
  @Post('invalidate')
  @HttpCode(200)
  async invalidate(@Headers('authorization') authorization: string | undefined, @Body() body: unknown): Promise<InvalidationOutcome> {
    this.authorize(authorization);
    let request;
    try {
      request = parseInvalidationRequest(body, (key) => keyInPolicy(this.policy.current, key), normalizePath);
    } catch (err) {
      if (err instanceof InvalidationRequestError) throw new BadRequestException(err.message);
      throw err;
    }
    return this.invalidation.invalidate(request, 'admin');
  }

  private authorize(header: string | undefined): void {
    if (this.tokenDigest === null) {
      throw new ForbiddenException('write endpoints are disabled: set ADMIN_TOKEN and send "Authorization: Bearer <token>"');
    }
    const m = /^Bearer\s+(.+)$/i.exec(header ?? '');
    // Compared as digests in constant time: the token's length and content do not leak through timing.
    if (!m || !timingSafeEqual(digest(m[1]!.trim()), this.tokenDigest)) {
      throw new UnauthorizedException('a valid "Authorization: Bearer <ADMIN_TOKEN>" header is required');
    }
  }
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}
