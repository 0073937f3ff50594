import type { IncomingMessage } from 'node:http';
import { connect, isIP, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import type { TiercelConfig } from '../config/config';

/**
 * CONNECT (RFC 9110 §9.3.6): a blind TCP tunnel, nothing cached. Forward mode only, for
 * ALLOWED_CLIENTS, to the ports in CONNECT_PORTS.
 */
export class ConnectTunnel {
  private readonly sockets = new Set<Duplex>();

  constructor(private readonly config: TiercelConfig, private readonly log: Logger) {}

  handle(req: IncomingMessage, client: Duplex, head: Buffer): void {
    client.on('error', () => client.destroy());
    if (this.config.proxy.upstream !== null) return refuse(client, 405, 'Method Not Allowed: CONNECT is for forward mode (UPSTREAM_URL is set)');
    if (!this.config.proxy.allowedClients.contains(req.socket.remoteAddress)) return refuse(client, 403, 'Forbidden: this client may not use the proxy (see ALLOWED_CLIENTS)');
    const target = parseAuthority(req.url ?? '');
    if (target === null) return refuse(client, 400, 'Bad Request: CONNECT needs host:port');
    const allowed = this.config.proxy.connectPorts;
    if (allowed !== null && !allowed.has(target.port)) return refuse(client, 403, `Forbidden: CONNECT to port ${target.port} is not allowed (see CONNECT_PORTS)`);

    const upstream: Socket = connect({ host: target.host, port: target.port });
    this.sockets.add(client);
    const timer = setTimeout(() => upstream.destroy(Object.assign(new Error('connect timeout'), { code: 'ETIMEDOUT' })), this.config.proxy.upstreamTimeoutMs);
    let established = false;
    upstream.once('connect', () => {
      established = true;
      clearTimeout(timer);
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    upstream.on('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      if (established) return client.destroy();
      this.log.warn({ err, target: req.url }, 'CONNECT upstream failed');
      const status = err.code === 'ETIMEDOUT' ? 504 : 502;
      refuse(client, status, status === 504 ? 'Gateway Timeout: tunnel target did not answer' : `Bad Gateway: tunnel target unreachable (${err.code ?? 'error'})`);
    });
    const close = () => {
      clearTimeout(timer);
      upstream.destroy();
      client.destroy();
      this.sockets.delete(client);
    };
    client.once('close', close);
    upstream.once('close', close);
  }

  /** Tunnels are opaque: at shutdown they are closed, not drained. */
  closeAll(): void {
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
  }
}

function refuse(client: Duplex, status: number, message: string): void {
  if (client.destroyed) return;
  const reason = { 400: 'Bad Request', 403: 'Forbidden', 405: 'Method Not Allowed', 502: 'Bad Gateway', 504: 'Gateway Timeout' }[status] ?? 'Error';
  const body = `${message}\n`;
  client.end(`HTTP/1.1 ${status} ${reason}\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
}

/** CONNECT's authority-form (RFC 9112 §3.2.3): a bracketed IPv6 literal or a reg-name / IPv4, then a port. */
function parseAuthority(authority: string): { host: string; port: number } | null {
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9\-._~%]+)):(\d{1,5})$/.exec(authority);
  if (!m) return null;
  const host = m[1] ?? m[2]!;
  if (m[1] !== undefined && isIP(host) !== 6) return null;
  const port = Number(m[3]);
  if (port < 1 || port > 65535) return null;
  return { host, port };
}
