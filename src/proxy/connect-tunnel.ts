import type { IncomingMessage } from 'node:http';
import type { Http2SecureServer } from 'node:http2';
import { connect, isIP, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import { metrics } from '@opentelemetry/api';
import type { Logger } from 'pino';
import type { TiercelConfig } from '../config/config';
import type { LeafCertificates } from '../tls/certificate-authority';
import { LRUCache } from 'lru-cache';
import { exclusionList, HttpsServerTls, markIntercepted, TunnelTarget } from './interception';

/** Tunnel durations (seconds): from a quick probe to a long-lived stream. */
const TUNNEL_BUCKETS = [0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600];
/** How long a client may take to send its first bytes, and then to finish a TLS handshake. */
const FIRST_BYTES_MS = 10_000;

/** What a CONNECT became (a blind TCP tunnel, or decrypted and served through the cache), and whether its 200 is out. */
interface TunnelState {
  kind: 'blind' | 'intercepted';
  established: boolean;
  /** Intercepted: the client completed the TLS handshake (one that did not trust Tiercel's CA did not). */
  secured: boolean;
  /** Intercepted: the TLS socket that took the client's connection over. */
  tls: TLSSocket | null;
}

/**
 * CONNECT (RFC 9110 §9.3.6), forward mode only, for ALLOWED_CLIENTS, to the ports in
 * CONNECT_PORTS. With INTERCEPT, a tunnel whose first bytes are a TLS ClientHello (and whose
 * host is not in INTERCEPT_EXCLUDE) is terminated with a certificate from Tiercel's CA and its
 * requests go through the cache; anything else is a blind TCP tunnel, nothing cached. Every
 * tunnel is counted and logged with its bytes each way and its duration.
 */
export class ConnectTunnel {
  private readonly sockets = new Set<Duplex>();
  private readonly excluded: (host: string) => boolean;
  private readonly total = metrics.getMeter('tiercel').createCounter('tiercel.tunnels', { description: 'CONNECT tunnels, by result (ok, refused, error)' });
  private readonly bytes = metrics.getMeter('tiercel').createCounter('tiercel.tunnel.bytes', { description: 'Bytes carried by CONNECT tunnels, by direction', unit: 'By' });
  private readonly duration = metrics.getMeter('tiercel').createHistogram('tiercel.tunnel.duration_seconds', {
    description: 'How long CONNECT tunnels stayed open',
    unit: 's',
    advice: { explicitBucketBoundaries: TUNNEL_BUCKETS },
  });
  private readonly open = metrics.getMeter('tiercel').createUpDownCounter('tiercel.tunnels.open', { description: 'CONNECT tunnels open now' });

  constructor(
    private readonly config: TiercelConfig,
    private readonly log: Logger,
    /** Interception's leaf certificates; null: every tunnel is blind. */
    private readonly leaves: LeafCertificates | null = null,
  ) {
    this.excluded = exclusionList(config.tls.interceptExclude);
  }

  private intercept: {
    leaves: LeafCertificates;
    make: (tls: HttpsServerTls) => Http2SecureServer;
    /** The server for targets named by host name, choosing each leaf by SNI. */
    byName: Http2SecureServer;
    byAddress: LRUCache<string, Promise<Http2SecureServer>>;
  } | null = null;
  /** Raw client sockets handed to an interception server, until their handshake completes. */
  private readonly pending = new WeakMap<object, { target: TunnelTarget; state: TunnelState; finish: (r?: 'error') => void }>();

  /** Whether tunnels may be intercepted (INTERCEPT in forward mode). */
  get intercepting(): boolean {
    return this.leaves !== null;
  }

  /** How to make the servers decrypted connections are handed to (on the data port's lifecycle). */
  decryptWith(make: (tls: HttpsServerTls) => Http2SecureServer): void {
    const leaves = this.leaves;
    if (leaves === null) return;
    const byName = make({ SNICallback: (name, cb) => void leaves.contextFor(name).then((c) => cb(null, c), (err: Error) => cb(err)) });
    this.intercept = { leaves, make, byName: this.watch(byName), byAddress: new LRUCache({ max: 256 }) };
  }

  handle(req: IncomingMessage, client: Duplex, head: Buffer): void {
    client.on('error', () => client.destroy());
    if (this.config.proxy.upstream !== null) return this.refuse(client, 405, 'Method Not Allowed: CONNECT is for forward mode (UPSTREAM_URL is set)');
    if (!this.config.proxy.allowedClients.contains(req.socket.remoteAddress)) return this.refuse(client, 403, 'Forbidden: this client may not use the proxy (see ALLOWED_CLIENTS)');
    const target = parseAuthority(req.url ?? '');
    if (target === null) return this.refuse(client, 400, 'Bad Request: CONNECT needs host:port');
    const allowed = this.config.proxy.connectPorts;
    if (allowed !== null && !allowed.has(target.port)) return this.refuse(client, 403, `Forbidden: CONNECT to port ${target.port} is not allowed (see CONNECT_PORTS)`);

    const socket = client as Socket;
    const t0 = performance.now();
    // The CONNECT request itself was read and its 200 not yet written: only tunnel bytes count.
    const base = { read: (socket.bytesRead ?? 0) - head.length, written: socket.bytesWritten ?? 0 };
    this.sockets.add(client);
    this.open.add(1);
    const state: TunnelState = { kind: 'blind', established: false, secured: false, tls: null };
    let result: 'ok' | 'error' = 'ok';
    let closed = false;
    const finish = (r?: 'error') => {
      if (r) result = r;
      if (state.kind === 'intercepted' && !state.secured) result = 'error';
      if (closed) return;
      closed = true;
      this.sockets.delete(client);
      this.open.add(-1);
      const seconds = (performance.now() - t0) / 1000;
      const up = Math.max(0, (socket.bytesRead ?? 0) - base.read);
      // The "200 Connection Established" line is not tunnel traffic.
      const down = Math.max(0, (socket.bytesWritten ?? 0) - base.written - (state.established ? ESTABLISHED.length : 0));
      const kind = state.kind;
      this.total.add(1, { result });
      this.bytes.add(up, { direction: 'client_to_origin' });
      this.bytes.add(down, { direction: 'origin_to_client' });
      this.duration.record(seconds);
      this.log.info({ host: target.host, port: target.port, mode: kind, intercepted: kind === 'intercepted', result, bytes_client_to_origin: up, bytes_origin_to_client: down, duration_ms: Math.round(seconds * 1000) }, 'tunnel closed');
    };
    client.once('close', () => finish());

    if (!this.intercepts(target)) return this.blind(client, target, head, state, finish);
    // Interception decides on the first bytes, which the client sends only after the 200.
    client.write(ESTABLISHED);
    state.established = true;
    const first = (chunk: Buffer) => {
      clearTimeout(timer);
      if (chunk[0] !== 0x16 /* TLS handshake record (RFC 8446 §5.1) */) return this.blind(client, target, chunk, state, finish);
      state.kind = 'intercepted';
      this.terminate(socket, target, chunk, state, finish);
    };
    const timer = setTimeout(() => client.destroy(), FIRST_BYTES_MS);
    if (head.length > 0) first(head);
    else client.once('data', (chunk: Buffer) => {
      client.pause();
      first(chunk);
    });
  }

  private intercepts(target: TunnelTarget): boolean {
    return this.intercept !== null && !this.excluded(target.host);
  }

  /**
   * TLS towards the client with a leaf for its SNI name (else the CONNECT host), then HTTP/2 or
   * HTTP/1.1 by ALPN through the cache. The connection goes, as a plain socket with its first
   * bytes put back, to an HTTPS server that never listens; that server does the handshake.
   * Clients send SNI for host names, so one server answering by SNI serves them all; an IP
   * literal is never sent as SNI (RFC 6066 §3), so each IP target has a server whose own
   * certificate is the default.
   */
  private terminate(client: Socket, target: TunnelTarget, first: Buffer, state: TunnelState, finish: (r?: 'error') => void): void {
    const server = isIP(target.host) === 0 ? Promise.resolve(this.intercept!.byName) : this.serverForAddress(target.host);
    server.then(
      (s) => {
        if (client.destroyed) return;
        this.pending.set(client, { target, state, finish });
        // The data port's sockets allow half-open connections (for CONNECT); a decrypted one
        // ends when the client's side does, or an HTTP/2 session would outlive its client.
        client.allowHalfOpen = false;
        client.unshift(first);
        s.emit('connection', client);
      },
      (err: unknown) => {
        this.log.error({ err, host: target.host }, 'could not make a certificate for an intercepted host');
        finish('error');
        client.destroy();
      },
    );
  }

  /** The server for an IP-literal target: its leaf is the default certificate, SNI or not. */
  private serverForAddress(ip: string): Promise<Http2SecureServer> {
    const intercept = this.intercept!;
    let server = intercept.byAddress.get(ip);
    if (server === undefined) {
      server = intercept.leaves.leafFor(ip).then((leaf) => this.watch(intercept.make({ cert: leaf.cert, key: leaf.key })));
      intercept.byAddress.set(ip, server);
      server.catch(() => intercept.byAddress.delete(ip));
    }
    return server;
  }

  /**
   * A decrypted connection learns which tunnel it came through before its first request. The
   * TLS socket now owns the client's connection (the raw socket emits nothing more), so the
   * tunnel ends when it closes, or when its handshake fails.
   */
  private watch(server: Http2SecureServer): Http2SecureServer {
    const pendingOf = (tls: TLSSocket) => {
      const parent = (tls as unknown as { _parent?: object })._parent;
      const pending = parent === undefined ? undefined : this.pending.get(parent);
      if (pending !== undefined) this.pending.delete(parent!);
      return pending === undefined ? undefined : { parent: parent!, ...pending };
    };
    server.on('secureConnection', (tls: TLSSocket) => {
      const p = pendingOf(tls);
      if (p === undefined) return;
      p.state.secured = true;
      p.state.tls = tls;
      markIntercepted(p.parent, p.target);
      this.sockets.add(tls);
      tls.once('close', () => {
        this.sockets.delete(tls);
        p.finish();
      });
    });
    server.on('tlsClientError', (err: Error, tls: TLSSocket) => {
      const p = pendingOf(tls);
      if (p === undefined) return;
      // Most often a client that does not trust Tiercel's CA: it ends the handshake with an alert.
      this.log.info({ host: p.target.host, port: p.target.port, err: err.message }, 'intercepted TLS handshake failed');
      p.finish('error');
    });
    return server;
  }

  /** A blind TCP tunnel; the 200 is sent once the target is reached unless interception already sent it. */
  private blind(client: Duplex, target: TunnelTarget, head: Buffer, state: TunnelState, finish: (r?: 'error') => void): void {
    const answer = !state.established;
    const upstream: Socket = connect({ host: target.host, port: target.port });
    const timer = setTimeout(() => upstream.destroy(Object.assign(new Error('connect timeout'), { code: 'ETIMEDOUT' })), this.config.proxy.upstreamTimeoutMs);
    let established = false;
    upstream.once('connect', () => {
      established = true;
      clearTimeout(timer);
      if (answer) {
        client.write(ESTABLISHED);
        state.established = true;
      }
      if (head.length) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
      client.resume();
    });
    upstream.on('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      finish('error');
      if (established || !answer) return client.destroy();
      this.log.warn({ err, target: `${target.host}:${target.port}` }, 'CONNECT upstream failed');
      const status = err.code === 'ETIMEDOUT' ? 504 : 502;
      refuse(client, status, status === 504 ? 'Gateway Timeout: tunnel target did not answer' : `Bad Gateway: tunnel target unreachable (${err.code ?? 'error'})`);
    });
    const close = () => {
      clearTimeout(timer);
      upstream.destroy();
      client.destroy();
    };
    client.once('close', close);
    upstream.once('close', close);
  }

  private refuse(client: Duplex, status: number, message: string): void {
    this.total.add(1, { result: 'refused' });
    refuse(client, status, message);
  }

  /** Tunnels are opaque: at shutdown they are closed, not drained. */
  closeAll(): void {
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
  }
}

const ESTABLISHED = 'HTTP/1.1 200 Connection Established\r\n\r\n';

function refuse(client: Duplex, status: number, message: string): void {
  if (client.destroyed) return;
  const reason = { 400: 'Bad Request', 403: 'Forbidden', 405: 'Method Not Allowed', 502: 'Bad Gateway', 504: 'Gateway Timeout' }[status] ?? 'Error';
  const body = `${message}\n`;
  client.end(`HTTP/1.1 ${status} ${reason}\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
}

/** CONNECT's authority-form (RFC 9112 §3.2.3): a bracketed IPv6 literal or a reg-name / IPv4, then a port. */
function parseAuthority(authority: string): TunnelTarget | null {
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9\-._~%]+)):(\d{1,5})$/.exec(authority);
  if (!m) return null;
  const host = m[1] ?? m[2]!;
  if (m[1] !== undefined && isIP(host) !== 6) return null;
  const port = Number(m[3]);
  if (port < 1 || port > 65535) return null;
  return { host: host.toLowerCase(), port };
}
