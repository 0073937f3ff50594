import { ForbiddenException, UnauthorizedException } from '@nestjs/common';
import { createHash, timingSafeEqual } from 'node:crypto';

/** Checks `Authorization: Bearer <ADMIN_TOKEN>` in constant time; 403 while no token is set, 401 for a wrong one. */
export class BearerCheck {
  private readonly digest: Buffer | null;

  constructor(token: string | null) {
    this.digest = token ? sha256(token) : null;
  }

  authorize(header: string | undefined): void {
    if (this.digest === null) throw new ForbiddenException('write endpoints are disabled: set ADMIN_TOKEN and send "Authorization: Bearer <token>"');
    const m = /^Bearer\s+(.+)$/i.exec(header ?? '');
    if (!m || !timingSafeEqual(sha256(m[1]!.trim()), this.digest)) throw new UnauthorizedException('a valid "Authorization: Bearer <ADMIN_TOKEN>" header is required');
  }
}

function sha256(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}
