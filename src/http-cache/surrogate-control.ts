import { splitOutsideQuotes } from './field-list';
import { CacheControl, parseCacheControl } from './cache-control';

/**
 * Surrogate-Control (W3C Edge Architecture 1.0, §2.2–§3): the origin's caching instructions for
 * the surrogates acting on its behalf, separate from Cache-Control, which keeps speaking to
 * browsers and other downstream caches. Tiercel is such a surrogate in reverse mode only.
 */

/**
 * The Surrogate-Capability entry a surrogate appends to requests it forwards (§2.1), so the
 * origin learns the device token it can target directives at.
 */
export function surrogateCapability(device: string): string {
  return `${device}="Surrogate/1.0"`;
}

/**
 * The Surrogate-Control directives for one device as Cache-Control, or null when none govern
 * caching. §2.3: a directive may carry `;device-token`; one targeted at another device is not
 * ours, and when some are targeted at us they are used instead of the untargeted ones.
 * §3: when Surrogate-Control says whether or how long to keep the response (no-store, max-age),
 * it replaces Cache-Control and Expires for the surrogate; other directives alone (content=,
 * extensions) leave Cache-Control in charge.
 */
export function surrogateControlFor(header: string | string[] | undefined, device: string): CacheControl | null {
  if (header === undefined) return null;
  const text = Array.isArray(header) ? header.join(',') : header;
  const token = device.toLowerCase();
  const untargeted: string[] = [];
  const targeted: string[] = [];
  for (const item of splitOutsideQuotes(text, 44 /* , */)) {
    const [directive, ...targets] = splitOutsideQuotes(item, 59 /* ; */).map((p) => p.trim());
    if (!directive) continue;
    if (targets.length === 0) untargeted.push(directive);
    else if (targets.some((t) => t.toLowerCase() === token)) targeted.push(directive);
  }
  const mine = targeted.length > 0 ? targeted : untargeted;
  // §2.2.3: max-age=freshness[+removal]; the removal part is a hint Tiercel does not use.
  const cc = parseCacheControl(mine.map((d) => d.replace(/^(max-age\s*=\s*"?\d+)\+\d+/i, '$1')).join(','));
  return cc.maxAge !== undefined || cc.noStore ? cc : null;
}

