import { BeforeApplicationShutdown, Inject, Injectable, OnApplicationBootstrap } from '@nestjs/common';
import { readFile } from 'node:fs/promises';
import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Http2SecureServer, ServerHttp2Session } from 'node:http2';
import type { AddressInfo, Socket } from 'node:net';
import { createSecureContext, SecureContext } from 'node:tls';
import type { Logger } from 'pino';
import { LOGGER } from '../common/logger';
import type { TiercelConfig } from '../config/config';
import { TIERCEL_CONFIG } from '../config/config.module';
import { sniChooser } from '../tls/sni';
import { RequestCounters } from '../telemetry/request-counters';
import { dataListenOptions } from '../cluster/worker';
import { ConnectTunnel } from './connect-tunnel';
import { createHttpsServer, HttpsServerTls } from './interception';
import { RequestLifecycle } from './request-lifecycle';
import { UpstreamClient } from './upstream.client';

/**
 * The data ports: a bare node:http server handing each request to the lifecycle, no Nest on
 * the path; with TLS_PORT, an HTTPS server (HTTP/2 and HTTP/1.1 by ALPN) handing its requests
 * to the same lifecycle; with INTERCEPT, the unlistened HTTPS server intercepted tunnels are
 * handed to once decrypted.
 */
@Injectable()
export class ProxyServer implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private server: Server | null = null;
  private tlsServer: Http2SecureServer | null = null;
  /** TLS connections and HTTP/2 sessions of both HTTPS servers, closed at shutdown. */
  private readonly tlsSockets = new Set<Socket>();
  private readonly sessions = new Set<ServerHttp2Session>();
  /** TLS_SNI_CERTS, loaded: the context for a server name, undefined for the default certificate. */
  private sniContext: (servername: string | undefined) => SecureContext | undefined = () => undefined;
  private draining = false;

  constructor(
    @Inject(TIERCEL_CONFIG) private readonly config: TiercelConfig,
    @Inject(LOGGER) private readonly log: Logger,
    private readonly lifecycle: RequestLifecycle,
    private readonly tunnel: ConnectTunnel,
    private readonly upstream: UpstreamClient,
    private readonly counters: RequestCounters,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    const server = createServer({ keepAlive: true, noDelay: true }, (req, res) => this.onRequest(req, res));
    server.on('connect', (req, socket, head) => this.tunnel.handle(req, socket, head));
    const counters = this.counters;
    const closed = () => counters.openConnections--;
    server.on('connection', (socket) => {
      counters.openConnections++;
      socket.once('close', closed);
    });
    // A malformed request gets a 400 and a closed connection, never an exception.
    server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
      if (socket.writable && !socket.destroyed) {
        const status = err.code === 'HPE_HEADER_OVERFLOW' ? '431 Request Header Fields Too Large' : '400 Bad Request';
        socket.end(`HTTP/1.1 ${status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n`);
      } else {
        socket.destroy();
      }
    });
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException & { variable?: string }) => {
        err.variable = 'PROXY_PORT';
        reject(err);
      });
      server.listen(dataListenOptions(this.config.proxy.port, this.config.proxy.host), () => {
        server.removeAllListeners('error');
        server.on('error', (err) => this.log.error({ err }, 'data port error'));
        resolve();
      });
    });
    if (this.tunnel.intercepting) this.tunnel.decryptWith((tls) => this.https(tls));
    if (this.config.tls.port !== null) await this.listenTls(this.config.tls.port);
    // Said once both ports are bound (tiercel.ts), so a failing admin port never follows a "listening" line.
  }

  /** An HTTPS server on the lifecycle, its connections and sessions tracked for shutdown. */
  private https(tls: HttpsServerTls): Http2SecureServer {
    const server = createHttpsServer(tls, (req, res) => this.onRequest(req, res));
    server.on('secureConnection', (socket: Socket) => {
      this.tlsSockets.add(socket);
      socket.once('close', () => this.tlsSockets.delete(socket));
    });
    server.on('session', (session: ServerHttp2Session) => {
      this.sessions.add(session);
      session.once('close', () => this.sessions.delete(session));
      if (this.draining) session.close();
    });
    // A client that breaks the protocol or the handshake loses its connection, never the process.
    server.on('sessionError', (err) => this.log.debug({ err: err.message }, 'HTTP/2 session error'));
    server.on('tlsClientError', (err) => this.log.debug({ err: err.message }, 'TLS handshake failed'));
    return server;
  }

  private async tlsFiles(): Promise<{ cert: Buffer; key: Buffer }> {
    const { certFile, keyFile } = this.config.tls;
    const [cert, key] = await Promise.all([readFile(certFile!), readFile(keyFile!)]);
    return { cert, key };
  }

  /**
   * Reads every TLS_SNI_CERTS pair and makes its context; any file that does not load or pair
   * refuses the whole set, so a reload never leaves some names on old certificates and others on new.
   */
  private async sniContexts(): Promise<(servername: string | undefined) => SecureContext | undefined> {
    const entries = await Promise.all(this.config.tls.sniCerts.map(async (e) => {
      try {
        const [cert, key] = await Promise.all([readFile(e.certFile), readFile(e.keyFile)]);
        return { hosts: e.hosts, value: createSecureContext({ cert, key, minVersion: 'TLSv1.2' }) };
      } catch (err) {
        throw new Error(`TLS_SNI_CERTS ${e.hosts}: ${(err as Error).message}`);
      }
    }));
    return sniChooser(entries);
  }

  private async listenTls(port: number): Promise<void> {
    let files: { cert: Buffer; key: Buffer };
    try {
      files = await this.tlsFiles();
    } catch (err) {
      throw Object.assign(new Error(`TLS_CERT/TLS_KEY: ${(err as Error).message}`), { variable: 'TLS_CERT' });
    }
    if (this.config.tls.sniCerts.length > 0) {
      try {
        this.sniContext = await this.sniContexts();
      } catch (err) {
        throw Object.assign(err as Error, { variable: 'TLS_SNI_CERTS' });
      }
    }
    // With no TLS_SNI_CERTS there is no SNICallback: the handshake stays as it was.
    const server = this.https(this.config.tls.sniCerts.length === 0 ? files : {
      ...files,
      // No match (or no server name) gives the default context, TLS_CERT/TLS_KEY.
      SNICallback: (servername, cb) => cb(null, this.sniContext(servername)),
    });
    this.tlsServer = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException & { variable?: string }) => {
        err.variable = 'TLS_PORT';
        reject(err);
      });
      server.listen(dataListenOptions(port, this.config.proxy.host), () => {
        server.removeAllListeners('error');
        server.on('error', (err) => this.log.error({ err }, 'TLS data port error'));
        resolve();
      });
    });
  }

  /**
   * SIGHUP: TLS_CERT and TLS_KEY, and every TLS_SNI_CERTS pair, are read again and used for new
   * handshakes; open connections keep theirs. If any file does not load, every certificate in
   * place stays.
   */
  async reloadCertificates(): Promise<void> {
    const server = this.tlsServer;
    if (server === null) return;
    const files = await this.tlsFiles();
    const sni = this.config.tls.sniCerts.length > 0 ? await this.sniContexts() : null;
    // Every SNI pair has loaded; a default pair that does not load throws here, before any swap.
    server.setSecureContext({ ...files, minVersion: 'TLSv1.2' });
    if (sni !== null) this.sniContext = sni;
  }

  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    if (this.draining) res.shouldKeepAlive = false;
    this.lifecycle.handle(req, res);
  }

  /** What the data port is, for the start line. */
  get mode(): string {
    return this.config.proxy.upstream ? `reverse proxy for ${this.config.proxy.upstream.origin}` : 'forward proxy';
  }

  get address(): { host: string; port: number } | null {
    const a = this.server?.address() as AddressInfo | null | undefined;
    return a ? { host: a.address, port: a.port } : null;
  }

  /** The TLS data port, when TLS_PORT is set. */
  get tlsPort(): number | null {
    const a = this.tlsServer?.address() as AddressInfo | null | undefined;
    return a ? a.port : null;
  }

  get listening(): boolean {
    return this.server?.listening === true && !this.draining;
  }

  /** SIGTERM: stop accepting, let in-flight requests finish within SHUTDOWN_TIMEOUT, then cut the rest. */
  async beforeApplicationShutdown(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.draining = true;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    const tlsServer = this.tlsServer;
    const tlsClosed = tlsServer === null ? Promise.resolve() : new Promise<void>((resolve) => tlsServer.close(() => resolve()));
    server.closeIdleConnections();
    // HTTP/2 sessions get a GOAWAY: their open streams finish, no new ones start.
    for (const s of this.sessions) s.close();
    this.tunnel.closeAll();
    const deadline = Date.now() + this.config.proxy.shutdownTimeoutMs;
    while (this.counters.activeRequests > 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 25));
      server.closeIdleConnections();
    }
    if (this.counters.activeRequests > 0) this.log.warn({ inFlight: this.counters.activeRequests }, 'shutdown timeout: closing remaining connections');
    server.closeAllConnections();
    for (const s of this.sessions) s.destroy();
    for (const s of this.tlsSockets) s.destroy();
    await Promise.all([closed, tlsClosed]);
    await this.upstream.destroy();
    this.log.info('data plane closed');
  }
}
