import 'reflect-metadata';
import { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import type { Logger } from 'pino';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { adminSecurityHeaders } from './admin/security-headers';
import { AppModule } from './app.module';
import { createLogger, PinoNestLogger } from './common/logger';
import { TIERCEL_VERSION } from './common/version';
import type { TiercelConfig } from './config/config';
import type { PolicyService } from './policy/policy.service';
import { loadSettings } from './policy/settings';
import { Reloaders } from './reload';
import { ProxyServer } from './proxy/proxy.server';
import { NO_TELEMETRY, TelemetryHandle } from './telemetry/otel-sdk';
import { MemoryTier } from './cache/memory.tier';
import { adminListenOptions, announceReady, serveSiblings, workerContext } from './cluster/worker';

export interface RunningTiercel {
  app: INestApplication;
  config: TiercelConfig;
  logger: Logger;
  proxyPort: number;
  /** The TLS data port (TLS_PORT), or null when it is off. */
  tlsPort: number | null;
  adminPort: number;
  policy: PolicyService;
  /** What SIGHUP runs: every reload hook (the policy file first). */
  reloaders: Reloaders;
  close(): Promise<void>;
}

/** One thing SIGHUP reloads: a failure is logged and leaves the current state in place. */
export interface Reloader {
  name: string;
  reload(): Promise<void>;
}

export interface StartOptions {
  logger?: Logger;
  /** The OpenTelemetry SDK, started before this call (main does); none: instruments are no-ops. */
  telemetry?: TelemetryHandle;
  config?: TiercelConfig;
  policy?: PolicyService;
}

/** Builds and starts one Tiercel: the Nest app with its admin port, and the data port. */
export async function startTiercel(env: Record<string, string | undefined> = process.env, o: StartOptions = {}): Promise<RunningTiercel> {
  const settings = o.config !== undefined && o.policy !== undefined ? { config: o.config, policy: o.policy } : loadSettings(env);
  const config = o.config ?? settings.config;
  const policy = o.policy ?? settings.policy;
  const reloaders = new Reloaders();
  if (policy.file !== null) reloaders.add('policy', () => policy.reload());
  const telemetry = o.telemetry ?? NO_TELEMETRY;
  config.telemetry.tracing = telemetry.tracing;
  const log = o.logger ?? createLogger(config.logLevel, config.instanceId);
  const app = await NestFactory.create<NestExpressApplication>(AppModule.forRoot(config, log, telemetry, policy, reloaders), { logger: new PinoNestLogger(log), bodyParser: true });
  // The admin port names no framework, and every answer (404s too) carries the security headers.
  app.disable('x-powered-by');
  app.use(adminSecurityHeaders);
  try {
    // A worker's admin port is its own loopback one; the instance's ADMIN_PORT is the primary's.
    await app.listen(adminListenOptions(config) as unknown as number);
  } catch (err) {
    (err as { variable?: string }).variable ??= 'ADMIN_PORT';
    await app.close().catch(() => {});
    throw err;
  }
  const adminPort = ((app.getHttpServer() as Server).address() as AddressInfo).port;
  const proxy = app.get(ProxyServer);
  const proxyPort = proxy.address!.port;
  const tlsPort = proxy.tlsPort;
  if (config.tls.upstreamInsecure) {
    log.warn({ variable: 'UPSTREAM_TLS_INSECURE' }, 'UPSTREAM_TLS_INSECURE=true: ORIGIN TLS CERTIFICATES ARE NOT VERIFIED. Anyone on the path can impersonate any origin and poison the cache. For tests only; never in production.');
  }
  if (tlsPort !== null) {
    reloaders.add('tls-certificates', async () => {
      await proxy.reloadCertificates();
      return { ok: true };
    });
  }
  const worker = workerContext();
  if (worker !== null) {
    serveSiblings({
      l1: app.get(MemoryTier),
      config,
      reload: (signal, only) => reloaders.runAll(log, signal, only),
      reloadPolicy: () => policy.reload(),
    });
    log.info({ adminPort, proxyPort, ...(tlsPort !== null ? { tlsPort } : {}) }, 'worker started');
    announceReady({ adminPort, proxyPort, tlsPort, mode: proxy.mode });
  } else {
    // `instance` is on every line already (the logger's base).
    log.info({ adminPort, proxyPort, ...(tlsPort !== null ? { tlsPort } : {}), mode: proxy.mode, version: TIERCEL_VERSION }, 'tiercel started');
  }
  return { app, config, logger: log, proxyPort, tlsPort, adminPort, policy, reloaders, close: () => app.close() };
}
