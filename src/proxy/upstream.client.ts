import { Agent, Dispatcher, Pool, errors } from 'undici';
import type { TiercelConfig } from '../config/config';

/** Where one request goes: the origin (scheme://host:port) and the dispatcher holding its connections. */
export interface UpstreamTarget {
  origin: string;
  dispatcher: Dispatcher;
  /** Host header to send upstream. */
  host: string;
}

export type UpstreamFailure = 'connect-error' | 'timeout' | 'reset' | 'aborted' | 'protocol-error';

/** Maps an undici/socket error to why the origin could not answer, and the status that says so. */
export function classifyUpstreamError(err: unknown): { reason: UpstreamFailure; status: 502 | 504 } {
  const e = err as { code?: string; name?: string };
  if (err instanceof errors.HeadersTimeoutError || err instanceof errors.BodyTimeoutError || err instanceof errors.ConnectTimeoutError) {
    return { reason: 'timeout', status: 504 };
  }
  if (e?.code === 'UND_ERR_HEADERS_TIMEOUT' || e?.code === 'UND_ERR_BODY_TIMEOUT' || e?.code === 'UND_ERR_CONNECT_TIMEOUT' || e?.code === 'ETIMEDOUT') {
    return { reason: 'timeout', status: 504 };
  }
  if (e?.name === 'AbortError' || e?.code === 'UND_ERR_ABORTED') return { reason: 'aborted', status: 502 };
  if (e?.code === 'ECONNREFUSED' || e?.code === 'ENOTFOUND' || e?.code === 'EAI_AGAIN' || e?.code === 'EHOSTUNREACH' || e?.code === 'ENETUNREACH') {
    return { reason: 'connect-error', status: 502 };
  }
  if (e?.code === 'UND_ERR_SOCKET' || e?.code === 'ECONNRESET' || e?.code === 'EPIPE' || e?.code === 'UND_ERR_CLOSED') {
    return { reason: 'reset', status: 502 };
  }
  return { reason: 'protocol-error', status: 502 };
}

/**
 * Chooses the upstream for a request and owns the connections to it: one keep-alive Pool to
 * UPSTREAM_URL in reverse mode, an Agent (a Pool per origin) in forward mode.
 */
export class UpstreamClient {
  private readonly reverse: UpstreamTarget | null;
  private readonly agent: Agent | null;

  constructor(config: TiercelConfig) {
    const { upstream, upstreamConnections, upstreamTimeoutMs } = config.proxy;
    const options = {
      connections: upstreamConnections,
      keepAliveTimeout: 4_000,
      headersTimeout: upstreamTimeoutMs,
      bodyTimeout: upstreamTimeoutMs,
      connect: { timeout: upstreamTimeoutMs },
    };
    if (upstream) {
      this.reverse = { origin: upstream.origin, dispatcher: new Pool(upstream.origin, options), host: upstream.host };
      this.agent = null;
    } else {
      this.reverse = null;
      this.agent = new Agent(options);
    }
  }

  get isReverse(): boolean {
    return this.reverse !== null;
  }

  /** The fixed origin in reverse mode. */
  get reverseTarget(): UpstreamTarget | null {
    return this.reverse;
  }

  /** A target for an absolute-form URL in forward mode. */
  forwardTarget(url: URL): UpstreamTarget {
    return { origin: url.origin, dispatcher: this.agent!, host: url.host };
  }

  async destroy(): Promise<void> {
    await (this.reverse?.dispatcher ?? this.agent)?.destroy();
  }
}
