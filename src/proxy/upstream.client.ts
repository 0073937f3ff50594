import { readFileSync } from 'node:fs';
import { IncomingMessage, request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { PassThrough, Readable } from 'node:stream';
import { Agent, Client, Dispatcher, Pool, errors } from 'undici';
import { rootCertificates } from 'node:tls';
import type { TiercelConfig } from '../config/config';
import { ConfigError } from '../config/parse';

/** Where one request goes: the origin (scheme://host:port) and the dispatcher holding its connections. */
export interface UpstreamTarget {
  origin: string;
  dispatcher: Dispatcher;
  /** A client with a connection of its own, for the one retry after a reused connection broke; closed when done. */
  fresh(): Dispatcher;
  /** Host header to send upstream. */
  host: string;
}

export type UpstreamFailure = 'connect-error' | 'timeout' | 'reset' | 'aborted' | 'protocol-error' | 'client-body-timeout' | 'tls-cert-invalid' | 'tls-error';

/**
 * OpenSSL's verification results and Node's host check (X509_V_ERR_* without the prefix):
 * the origin's certificate was not accepted.
 */
const CERT_REJECTIONS = /^(?:ERR_TLS_CERT_ALTNAME_INVALID|CERT_[A-Z_]+|[A-Z_]*SELF_SIGNED[A-Z_]*|UNABLE_TO_[A-Z_]+|DEPTH_ZERO_SELF_SIGNED_CERT|INVALID_CA|INVALID_PURPOSE|PATH_LENGTH_EXCEEDED|HOSTNAME_MISMATCH|ERR_TLS_CERT_[A-Z_]+)$/;

/** The precise reason a TLS connection to the origin failed (the OpenSSL or Node code), or null when it was not TLS. */
export function tlsFailureCode(err: unknown): string | null {
  for (let e = err as { code?: unknown; cause?: unknown } | undefined, depth = 0; e && depth < 4; e = e.cause as typeof e, depth++) {
    if (typeof e.code === 'string' && (CERT_REJECTIONS.test(e.code) || e.code.startsWith('ERR_SSL_') || e.code === 'EPROTO')) return e.code;
  }
  return null;
}

/** The client's request body stalled for longer than REQUEST_BODY_TIMEOUT. */
export class RequestBodyTimeout extends Error {
  readonly code = 'TIERCEL_BODY_TIMEOUT';
  constructor(ms: number) {
    super(`the request body stalled for ${ms} ms`);
  }
}

/** Maps an undici/socket error to why the origin could not answer, and the status that says so. */
export function classifyUpstreamError(err: unknown): { reason: UpstreamFailure; status: 408 | 502 | 504 } {
  const e = err as { code?: string; name?: string; cause?: unknown };
  if (err instanceof RequestBodyTimeout || e?.cause instanceof RequestBodyTimeout) return { reason: 'client-body-timeout', status: 408 };
  if (err instanceof errors.HeadersTimeoutError || err instanceof errors.BodyTimeoutError || err instanceof errors.ConnectTimeoutError) {
    return { reason: 'timeout', status: 504 };
  }
  if (e?.code === 'UND_ERR_HEADERS_TIMEOUT' || e?.code === 'UND_ERR_BODY_TIMEOUT' || e?.code === 'UND_ERR_CONNECT_TIMEOUT' || e?.code === 'ETIMEDOUT') {
    return { reason: 'timeout', status: 504 };
  }
  if (e?.name === 'AbortError' || e?.code === 'UND_ERR_ABORTED') return { reason: 'aborted', status: 502 };
  const tls = tlsFailureCode(err);
  if (tls !== null) return { reason: CERT_REJECTIONS.test(tls) ? 'tls-cert-invalid' : 'tls-error', status: 502 };
  if (e?.code === 'ECONNREFUSED' || e?.code === 'ENOTFOUND' || e?.code === 'EAI_AGAIN' || e?.code === 'EHOSTUNREACH' || e?.code === 'ENETUNREACH') {
    return { reason: 'connect-error', status: 502 };
  }
  if (e?.code === 'UND_ERR_SOCKET' || e?.code === 'ECONNRESET' || e?.code === 'EPIPE' || e?.code === 'UND_ERR_CLOSED') {
    return { reason: 'reset', status: 502 };
  }
  return { reason: 'protocol-error', status: 502 };
}

/**
 * The request body as undici reads it, stopped with RequestBodyTimeout when the client sends
 * nothing for `ms`: a stalled upload must not hold a pooled origin connection.
 */
export function idleLimited(body: Readable, ms: number): Readable {
  const out = new PassThrough();
  let timer = setTimeout(stall, ms);
  function stall(): void {
    out.destroy(new RequestBodyTimeout(ms));
    body.unpipe(out);
  }
  body.on('data', () => {
    clearTimeout(timer);
    timer = setTimeout(stall, ms);
  });
  const done = () => clearTimeout(timer);
  body.once('end', done);
  body.once('error', (err) => {
    done();
    out.destroy(err);
  });
  out.once('close', done);
  body.pipe(out);
  return out;
}

/**
 * OPTIONS * (RFC 9112 §3.2.4), which undici's request API does not send: one node:http request
 * to the origin, its events handed to an undici dispatch handler as undici would hand them.
 */
export function dispatchAsterisk(target: UpstreamTarget, headers: string[], timeoutMs: number, handler: Dispatcher.DispatchHandler): void {
  const url = new URL(target.origin);
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  const req = send({ host: url.hostname, port: url.port || undefined, method: 'OPTIONS', path: '*', headers, timeout: timeoutMs, agent: false });
  let res: IncomingMessage | null = null;
  let done = false;
  let paused = false;
  let reason: Error | null = null;
  const fail = (err: Error) => {
    if (done) return;
    done = true;
    handler.onResponseError?.(controller, err);
  };
  const controller: Dispatcher.DispatchController = {
    get aborted() { return reason !== null; },
    get paused() { return paused; },
    get reason() { return reason; },
    abort(err: Error) {
      if (reason !== null) return;
      reason = err;
      req.destroy();
      res?.destroy();
      fail(err);
    },
    pause() {
      paused = true;
      res?.pause();
    },
    resume() {
      paused = false;
      res?.resume();
    },
  };
  req.once('timeout', () => req.destroy(Object.assign(new Error('origin timed out'), { code: 'UND_ERR_HEADERS_TIMEOUT' })));
  req.once('error', fail);
  req.once('response', (r) => {
    res = r;
    r.once('error', fail);
    r.once('aborted', () => fail(Object.assign(new Error('origin closed the response'), { code: 'ECONNRESET' })));
    handler.onResponseStart?.(controller, r.statusCode ?? 502, r.headers);
    if (done) return;
    if (paused) r.pause();
    r.on('data', (chunk: Buffer) => {
      if (!done) handler.onResponseData?.(controller, chunk);
    });
    r.once('end', () => {
      if (done) return;
      done = true;
      handler.onResponseEnd?.(controller, {});
    });
  });
  handler.onRequestStart?.(controller, {});
  req.end();
}

/**
 * How origin certificates are verified: against the system roots plus UPSTREAM_CA, never
 * skipped unless UPSTREAM_TLS_INSECURE says so (tests; said loudly at start).
 */
export function upstreamTls(config: TiercelConfig): { ca?: string[]; rejectUnauthorized: boolean } {
  const { upstreamCaFile, upstreamInsecure } = config.tls;
  if (upstreamInsecure) return { rejectUnauthorized: false };
  if (upstreamCaFile === null) return { rejectUnauthorized: true };
  let extra: string;
  try {
    extra = readFileSync(upstreamCaFile, 'utf8');
  } catch (err) {
    throw new ConfigError('UPSTREAM_CA', upstreamCaFile, `a readable PEM bundle (${(err as NodeJS.ErrnoException).code ?? 'unreadable'})`);
  }
  const certs = extra.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g);
  if (certs === null) throw new ConfigError('UPSTREAM_CA', upstreamCaFile, 'a PEM bundle with at least one CERTIFICATE block');
  return { ca: [...rootCertificates, ...certs], rejectUnauthorized: true };
}

/**
 * Chooses the upstream for a request and owns the connections to it: one keep-alive Pool to
 * UPSTREAM_URL in reverse mode, an Agent (a Pool per origin) in forward mode.
 */
export class UpstreamClient {
  private readonly reverse: UpstreamTarget | null;
  private readonly agent: Agent | null;
  private readonly options: Client.Options;

  constructor(config: TiercelConfig) {
    const { upstream, upstreamConnections, upstreamTimeoutMs } = config.proxy;
    const options = {
      connections: upstreamConnections,
      keepAliveTimeout: 4_000,
      headersTimeout: upstreamTimeoutMs,
      bodyTimeout: upstreamTimeoutMs,
      connect: { timeout: upstreamTimeoutMs, ...upstreamTls(config) },
    };
    const { connections: _pooled, ...single } = options;
    this.options = single;
    if (upstream) {
      const origin = upstream.origin;
      this.reverse = { origin, dispatcher: new Pool(origin, options), host: upstream.host, fresh: () => new Client(origin, options) };
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
    const origin = url.origin;
    const options = this.options;
    return { origin, dispatcher: this.agent!, host: url.host, fresh: () => new Client(origin, options) };
  }

  async destroy(): Promise<void> {
    await (this.reverse?.dispatcher ?? this.agent)?.destroy();
  }
}
