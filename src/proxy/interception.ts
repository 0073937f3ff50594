import type { IncomingMessage } from 'node:http';
import { createSecureServer, Http2SecureServer } from 'node:http2';
import type { SecureContext } from 'node:tls';
import { compileGlob, Glob } from '../invalidation/glob';

/** The CONNECT target an intercepted TLS connection was opened for. */
export interface TunnelTarget {
  host: string;
  port: number;
}

const targets = new WeakMap<object, TunnelTarget>();

/** Marks the client's raw connection (the TLS socket's parent) with the CONNECT target it was opened for. */
export function markIntercepted(raw: object, target: TunnelTarget): void {
  targets.set(raw, target);
}

/**
 * The CONNECT target of the tunnel a request arrived through, or null when it came to a data
 * port directly. Its socket (for HTTP/2, the session's, through a proxy object) is a TLS socket
 * whose parent is the tunnel's raw connection.
 */
export function interceptedTarget(req: IncomingMessage): TunnelTarget | null {
  const parent = (req.socket as unknown as { _parent?: object } | undefined)?._parent;
  return parent === undefined || parent === null ? null : targets.get(parent) ?? null;
}

/** A certificate and key, or an SNI callback choosing one per handshake. */
export interface HttpsServerTls {
  cert?: string | Buffer;
  key?: string | Buffer;
  SNICallback?: (servername: string, cb: (err: Error | null, ctx?: SecureContext) => void) => void;
}

/**
 * The HTTPS server shape both the TLS port and interception use: HTTP/2 by ALPN, HTTP/1.1 for
 * clients that do not offer it, one request handler for both (the node:http2 compatibility API
 * hands the lifecycle the same req/res interface HTTP/1.1 has). TLS 1.2 at least.
 */
export function createHttpsServer(
  tls: HttpsServerTls,
  handler: (req: IncomingMessage, res: import('node:http').ServerResponse) => void,
): Http2SecureServer {
  return createSecureServer(
    {
      ...tls,
      allowHTTP1: true,
      minVersion: 'TLSv1.2',
      handshakeTimeout: 10_000,
      // RFC 9113 §6.5.2: a bounded header list; 64 KiB as the HTTP/1.1 parser's limit is near it.
      maxHeaderListPairs: 256,
      settings: { maxConcurrentStreams: 128 },
    },
    handler as unknown as Parameters<typeof createSecureServer>[1],
  );
}

/** INTERCEPT_EXCLUDE: hosts whose tunnels stay blind (pinned apps, banks). */
export function exclusionList(globs: readonly string[]): (host: string) => boolean {
  const compiled: Glob[] = globs.map(compileGlob);
  return (host) => {
    const h = host.toLowerCase();
    return compiled.some((g) => g.matches(h));
  };
}
