import { startTiercel, RunningTiercel } from '../../src/tiercel';
import { createLogger } from '../../src/common/logger';
import { ClientOptions, ClientResponse, send } from './client';

export interface TestProxy {
  tiercel: RunningTiercel;
  port: number;
  adminPort: number;
  /** A request on the data port. */
  get(target: string, opts?: ClientOptions): Promise<ClientResponse>;
  admin(path: string, opts?: ClientOptions): Promise<ClientResponse>;
  stats(): Promise<Record<string, any>>;
  close(): Promise<void>;
}

/** Starts Tiercel in this process on ephemeral loopback ports. */
export async function startProxy(env: Record<string, string> = {}): Promise<TestProxy> {
  const fullEnv = { PROXY_PORT: '0', ADMIN_PORT: '0', LOG_LEVEL: 'silent', INSTANCE_ID: 'test', ...env };
  const tiercel = await startTiercel(fullEnv, { logger: createLogger((fullEnv.LOG_LEVEL as any) ?? 'silent', 'test') });
  return {
    tiercel,
    port: tiercel.proxyPort,
    adminPort: tiercel.adminPort,
    get: (target, opts) => send(tiercel.proxyPort, target, opts),
    admin: (path, opts) => send(tiercel.adminPort, path, opts),
    stats: async () => JSON.parse((await send(tiercel.adminPort, '/stats')).body),
    close: () => tiercel.close(),
  };
}

/** A reverse proxy in front of an origin URL. */
export function reverseProxy(upstream: string, env: Record<string, string> = {}): Promise<TestProxy> {
  return startProxy({ UPSTREAM_URL: upstream, ...env });
}
