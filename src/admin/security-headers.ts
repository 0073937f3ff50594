import type { NextFunction, Request, Response } from 'express';

/**
 * What every admin-port answer says about itself: nothing is to be framed, sniffed into
 * another type, sent on as a referrer or loaded by another site. The JSON and text endpoints
 * may load nothing at all; the status page replaces the policy with its own (STATUS_PAGE_CSP).
 */
export const ADMIN_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/** The status page: its own script, style and JSON endpoints only, no inline code, no other origin. */
export const STATUS_PAGE_CSP = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

export function adminSecurityHeaders(_req: Request, res: Response, next: NextFunction): void {
  res.setHeader('content-security-policy', ADMIN_CSP);
  res.setHeader('x-frame-options', 'DENY');
  res.setHeader('x-content-type-options', 'nosniff');
  res.setHeader('referrer-policy', 'no-referrer');
  res.setHeader('cross-origin-resource-policy', 'same-origin');
  res.setHeader('cross-origin-opener-policy', 'same-origin');
  next();
}
