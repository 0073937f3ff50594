import { connectionTokens, isHopByHop } from '../http-cache/headers';

/**
 * What an interim response is written to: node:http's ServerResponse and HTTP/2's compatibility
 * Http2ServerResponse both have writeEarlyHints; 102 needs writeProcessing (HTTP/1.1) or, on an
 * HTTP/2 stream, an informational HEADERS frame (RFC 9113 §8.1: a response may begin with "zero
 * or more HEADERS frames ... containing the message headers of informational (1xx) HTTP
 * responses"), which Http2ServerResponse has no method for but its stream does.
 */
export interface InterimTarget {
  readonly headersSent: boolean;
  readonly writableEnded: boolean;
  writeEarlyHints(hints: Record<string, string | string[]>): void;
  writeProcessing?(): void;
  readonly stream?: { additionalHeaders?(headers: Record<string, string | number>): void; readonly destroyed?: boolean };
}

/**
 * Forwards one interim (1xx) response from the origin to the client as it arrives. RFC 9110 §15.2:
 * "A proxy MUST forward 1xx responses unless the proxy itself requested the generation of the 1xx
 * response", and "A server MUST NOT send a 1xx response to an HTTP/1.0 client". Interim responses
 * are never stored (RFC 9111 §3: a cache stores final responses) nor merged into the final one:
 * this writes them straight through and keeps nothing.
 *
 * 100 Continue is answered by node:http itself for the client's own Expect, and 101 is an upgrade,
 * which a cached request never makes; both are left out. 102 and 103 are forwarded; other 1xx
 * codes have no writer in node:http and are dropped. Returns whether the response was written.
 */
export function forwardInterim(res: InterimTarget, clientIsHttp10: boolean, status: number, headers: Record<string, string | string[] | undefined>): boolean {
  if (clientIsHttp10 || res.headersSent || res.writableEnded) return false;
  if (status === 102) {
    if (res.writeProcessing !== undefined) {
      res.writeProcessing();
      return true;
    }
    const stream = res.stream;
    if (stream?.additionalHeaders === undefined || stream.destroyed === true) return false;
    try {
      stream.additionalHeaders({ ':status': 102 });
      return true;
    } catch {
      // A stream closing under us: the interim response is lost, the final one is not.
      return false;
    }
  }
  if (status !== 103) return false;
  const extra = connectionTokens(headers.connection);
  const hints: Record<string, string | string[]> = {};
  let hasLink = false;
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined || isHopByHop(name, extra)) continue;
    hints[name] = value;
    if (name === 'link') hasLink = true;
  }
  // node:http writes a 103 only with a Link field (the one Early Hints is defined for, RFC 8297 §2).
  if (!hasLink) return false;
  try {
    res.writeEarlyHints(hints);
    return true;
  } catch {
    // A Link value node:http refuses to write: the hint is lost, the response is not.
    return false;
  }
}
