import { BeforeApplicationShutdown, Inject, Injectable, OnApplicationBootstrap } from '@nestjs/common';
import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { LOGGER } from '../common/logger';
import type { TiercelConfig } from '../config/config';
import { TIERCEL_CONFIG } from '../config/config.module';
import { RequestCounters } from '../telemetry/request-counters';
import { ConnectTunnel } from './connect-tunnel';
import { RequestLifecycle } from './request-lifecycle';
import { UpstreamClient } from './upstream.client';

/** The data port: a bare node:http server handing each request to the lifecycle, no Nest on the path. */
@Injectable()
export class ProxyServer implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private server: Server | null = null;
  private inFlight = 0;
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
      server.listen(this.config.proxy.port, this.config.proxy.host, () => {
        server.removeAllListeners('error');
        server.on('error', (err) => this.log.error({ err }, 'data port error'));
        resolve();
      });
    });
    // Said once both ports are bound (tiercel.ts), so a failing admin port never follows a "listening" line.
  }

  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    this.inFlight++;
    this.counters.activeRequests++;
    res.once('close', () => {
      this.inFlight--;
      this.counters.activeRequests--;
    });
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

  get listening(): boolean {
    return this.server?.listening === true && !this.draining;
  }

  /** SIGTERM: stop accepting, let in-flight requests finish within SHUTDOWN_TIMEOUT, then cut the rest. */
  async beforeApplicationShutdown(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.draining = true;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeIdleConnections();
    this.tunnel.closeAll();
    const deadline = Date.now() + this.config.proxy.shutdownTimeoutMs;
    while (this.inFlight > 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 25));
      server.closeIdleConnections();
    }
    if (this.inFlight > 0) this.log.warn({ inFlight: this.inFlight }, 'shutdown timeout: closing remaining connections');
    server.closeAllConnections();
    await closed;
    await this.upstream.destroy();
    this.log.info('data plane closed');
  }
}
