import { createServer, IncomingHttpHeaders, IncomingMessage, request, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { mergeExpositions } from './metrics-merge';

/** A worker as the admin port sees it. */
export interface GatewayWorker {
  index: number;
  pid: number;
  /** Its own loopback admin port, once it has started. */
  adminPort: number | null;
  ready: boolean;
  startedAt: number;
  restarts: number;
}

export interface GatewayHost {
  readonly configured: number;
  workers(): GatewayWorker[];
  restarts(): number;
  readonly stopping: boolean;
  /** Until every worker has started once: not ready. */
  readonly starting: boolean;
  /** After the first worker accepted a policy file: the same file in every other worker. */
  reloadPolicyInOthers(first: number): Promise<{ worker: number; ok: boolean; error?: string }[]>;
}

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

const MAX_BODY = 1 << 20;
const CALL_TIMEOUT_MS = 10_000;
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'proxy-connection', 'te', 'trailer']);

/**
 * The instance's one admin port, in the primary. /stats and /metrics are every worker's,
 * merged; /admin/tail streams every worker's requests; /admin/reload reloads the first worker
 * and, only if it accepted the file, every other; everything else (invalidation, explain,
 * readiness, the runbook, the CA) is answered by one worker: what they do reaches the others
 * through the primary (invalidations) or is the same in every worker.
 */
export class AdminGateway {
  private server: Server | null = null;
  private next = 0;
  private readonly tails = new Set<(w: GatewayWorker) => void>();

  constructor(private readonly host: GatewayHost, private readonly log: Logger) {}

  async listen(port: number, hostname: string): Promise<number> {
    const server = createServer({ keepAlive: true }, (req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        this.log.error({ err }, 'admin request failed');
        if (!res.headersSent) reply(res, 502, { error: 'bad gateway', message: 'no worker answered' });
        else res.destroy();
      });
    });
    server.on('clientError', (_err, socket) => socket.destroy());
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException & { variable?: string }) => {
        err.variable = 'ADMIN_PORT';
        reject(err);
      });
      server.listen(port, hostname, () => {
        server.removeAllListeners('error');
        server.on('error', (err) => this.log.error({ err }, 'admin port error'));
        resolve();
      });
    });
    return (server.address() as AddressInfo).port;
  }

  /** A worker that (re)started: open tails follow it too. */
  workerReady(w: GatewayWorker): void {
    for (const attach of this.tails) attach(w);
  }

  async close(): Promise<void> {
    const s = this.server;
    if (s === null) return;
    await new Promise<void>((r) => {
      s.close(() => r());
      s.closeAllConnections();
    });
  }

  private ready(): GatewayWorker[] {
    return this.host.workers().filter((w) => w.ready && w.adminPort !== null);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    const body = await readBody(req);
    if (body === null) return reply(res, 413, { error: 'payload too large', message: `admin requests are at most ${MAX_BODY} bytes` });
    if (req.method === 'GET' && path === '/stats') return this.stats(res);
    if (req.method === 'GET' && path === '/metrics') return this.metrics(req, res);
    if (req.method === 'GET' && path === '/admin/tail') return this.tail(req, res);
    if (path === '/readyz' && (this.host.stopping || this.host.starting)) return reply(res, 503, { status: 'not-ready' });
    if (req.method === 'POST' && path === '/admin/reload') return this.reload(req, res, body);
    return this.forward(req, res, body);
  }

  /** One worker answers, the next one in turn; one that cannot be reached hands over to the next. */
  private async forward(req: IncomingMessage, res: ServerResponse, body: Buffer): Promise<void> {
    const ready = this.ready();
    for (let i = 0; i < ready.length; i++) {
      const w = ready[(this.next++ + i) % ready.length]!;
      let a: Answer;
      try {
        a = await call(w.adminPort!, req.method ?? 'GET', req.url ?? '/', req.headers, body);
      } catch {
        continue;
      }
      return relay(res, a);
    }
    reply(res, 503, { error: 'unavailable', message: 'no worker is serving' });
  }

  private async reload(req: IncomingMessage, res: ServerResponse, body: Buffer): Promise<void> {
    const first = this.ready()[0];
    if (first === undefined) return reply(res, 503, { error: 'unavailable', message: 'no worker is serving' });
    const a = await call(first.adminPort!, 'POST', req.url ?? '/admin/reload', req.headers, body);
    if (a.status === 200) {
      const others = await this.host.reloadPolicyInOthers(first.index);
      const failed = others.filter((o) => !o.ok);
      if (failed.length > 0) this.log.error({ failed }, 'the policy file was accepted by the first worker and refused by others: it changed while they read it');
    }
    relay(res, a);
  }

  private async gather(path: string, headers: IncomingHttpHeaders = {}): Promise<{ w: GatewayWorker; a: Answer | null }[]> {
    const ready = this.ready();
    return Promise.all(ready.map(async (w) => ({ w, a: await call(w.adminPort!, 'GET', path, headers, null).catch(() => null) })));
  }

  private async stats(res: ServerResponse): Promise<void> {
    const got = await this.gather('/stats');
    const parsed: { w: GatewayWorker; s: Record<string, unknown> | null }[] = got.map(({ w, a }) => {
      if (a === null || a.status !== 200) return { w, s: null };
      try {
        return { w, s: JSON.parse(a.body.toString('utf8')) as Record<string, unknown> };
      } catch {
        return { w, s: null };
      }
    });
    const ok = parsed.filter((p) => p.s !== null).map((p) => p.s!);
    if (ok.length === 0) return reply(res, 503, { error: 'unavailable', message: 'no worker answered' });
    const merged = mergeStats(ok) as Record<string, unknown>;
    const hits = Number(merged.hits) || 0;
    const misses = Number(merged.misses) || 0;
    merged.hitRate = hits + misses === 0 ? 0 : Number((hits / (hits + misses)).toFixed(4));
    const byIndex = new Map(parsed.map((p) => [p.w.index, p.s]));
    merged.workers = {
      configured: this.host.configured,
      serving: ok.length,
      restarts: this.host.restarts(),
      list: this.host.workers().map((w) => {
        const s = byIndex.get(w.index) as Record<string, any> | null | undefined;
        return {
          worker: w.index,
          pid: w.pid,
          state: s ? 'serving' : w.ready ? 'unreachable' : 'starting',
          startedAt: new Date(w.startedAt).toISOString(),
          restarts: w.restarts,
          ...(s ? { hits: s.hits, misses: s.misses, passes: s.passes, openConnections: s.openConnections, activeRequests: s.activeRequests, l1: s.l1, policy: s.policy?.hash ?? null } : {}),
        };
      }),
    };
    reply(res, 200, merged);
  }

  private async metrics(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const accept = req.headers.accept;
    const got = await this.gather('/metrics', accept === undefined ? {} : { accept });
    const ok = got.filter((g) => g.a !== null && g.a.status === 200);
    if (ok.length === 0) {
      const first = got.find((g) => g.a !== null);
      if (first !== undefined) return relay(res, first.a!);
      return reply(res, 503, { error: 'unavailable', message: 'no worker answered' });
    }
    const extra = [
      '# HELP tiercel_workers Worker processes of this instance, by state (configured, serving)',
      '# TYPE tiercel_workers gauge',
      `tiercel_workers{state="configured"} ${this.host.configured}`,
      `tiercel_workers{state="serving"} ${this.ready().length}`,
      '# HELP tiercel_worker_restarts Workers that died and were replaced since start',
      '# TYPE tiercel_worker_restarts counter',
      `tiercel_worker_restarts_total ${this.host.restarts()}`,
      '',
    ].join('\n');
    const text = mergeExpositions(
      ok.map((g) => g.a!.body.toString('utf8')),
      ok.map((g) => g.w.index),
      extra,
    );
    const type = ok[0]!.a!.headers['content-type'] ?? 'text/plain; version=0.0.4; charset=utf-8';
    res.writeHead(200, { 'content-type': type, vary: 'accept' });
    res.end(text);
  }

  /** Every worker's tail in one stream, whole lines only, following workers that are replaced meanwhile. */
  private async tail(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const upstreams = new Set<IncomingMessage>();
    const requests = new Set<ReturnType<typeof request>>();
    let open = true;
    const end = () => {
      if (!open) return;
      open = false;
      this.tails.delete(attach);
      for (const r of requests) r.destroy();
      res.destroy();
    };
    const open1 = (w: GatewayWorker): Promise<IncomingMessage | null> =>
      new Promise((resolve) => {
        const r = request({ host: '127.0.0.1', port: w.adminPort!, method: 'GET', path: req.url, headers: forwardHeaders(req.headers, w.adminPort!) });
        requests.add(r);
        r.on('response', (up) => resolve(up));
        r.on('error', () => {
          requests.delete(r);
          resolve(null);
        });
        r.end();
      });
    const follow = (up: IncomingMessage) => {
      upstreams.add(up);
      let partial = '';
      up.setEncoding('utf8');
      up.on('data', (chunk: string) => {
        const text = partial + chunk;
        const cut = text.lastIndexOf('\n');
        if (cut < 0) {
          partial = text;
          return;
        }
        partial = text.slice(cut + 1);
        if (!open) return;
        // A reader slower than the requests is cut off, as the workers' own tails do.
        if (res.writableLength > 1 << 20) return end();
        res.write(text.slice(0, cut + 1));
      });
      up.on('close', () => upstreams.delete(up));
    };
    const attach = (w: GatewayWorker) => {
      if (!open) return;
      void open1(w).then((up) => {
        if (up === null) return;
        if (up.statusCode !== 200 || !open) return void up.destroy();
        follow(up);
      });
    };
    const first = await Promise.all(this.ready().map((w) => open1(w)));
    const refused = first.find((up) => up !== null && up.statusCode !== 200);
    if (refused !== undefined || first.every((up) => up === null)) {
      for (const r of requests) r.destroy();
      if (refused === undefined || refused === null) return reply(res, 503, { error: 'unavailable', message: 'no worker is serving' });
      const chunks: Buffer[] = [];
      refused.on('data', (c: Buffer) => chunks.push(c));
      await new Promise((r) => refused.once('end', r).once('close', r));
      return relay(res, { status: refused.statusCode ?? 502, headers: refused.headers, body: Buffer.concat(chunks) });
    }
    res.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-store' });
    res.flushHeaders();
    req.socket.setNoDelay(true);
    for (const up of first) if (up !== null) follow(up);
    this.tails.add(attach);
    res.once('close', end);
  }
}

function forwardHeaders(h: IncomingHttpHeaders, port: number): IncomingHttpHeaders {
  const out: IncomingHttpHeaders = {};
  for (const [k, v] of Object.entries(h)) if (!HOP_BY_HOP.has(k) && k !== 'host') out[k] = v;
  out.host = `127.0.0.1:${port}`;
  return out;
}

function call(port: number, method: string, path: string, headers: IncomingHttpHeaders, body: Buffer | null): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const h = forwardHeaders(headers, port);
    if (body !== null && body.length > 0) h['content-length'] = String(body.length);
    else delete h['content-length'];
    const r = request({ host: '127.0.0.1', port, method, path, headers: h, timeout: CALL_TIMEOUT_MS });
    r.on('timeout', () => r.destroy(new Error('the worker did not answer in time')));
    r.on('error', reject);
    r.on('response', (up) => {
      const chunks: Buffer[] = [];
      up.on('data', (c: Buffer) => chunks.push(c));
      up.on('end', () => resolve({ status: up.statusCode ?? 502, headers: up.headers, body: Buffer.concat(chunks) }));
      up.on('error', reject);
    });
    r.end(body !== null && body.length > 0 ? body : undefined);
  });
}

function relay(res: ServerResponse, a: Answer): void {
  const headers: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(a.headers)) if (v !== undefined && !HOP_BY_HOP.has(k) && k !== 'content-length') headers[k] = v;
  headers['content-length'] = String(a.body.length);
  res.writeHead(a.status, headers);
  res.end(a.body);
}

function reply(res: ServerResponse, status: number, body: unknown): void {
  const text = `${JSON.stringify(body)}\n`;
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': String(Buffer.byteLength(text)) });
  res.end(text);
}

function readBody(req: IncomingMessage): Promise<Buffer | null> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        resolve(null);
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', () => resolve(null));
  });
}

/** Keys whose values are the same fact in every worker (each hears every other instance's invalidations), not a share of the traffic: the largest wins. */
const LARGEST_KEYS = new Set(['sequence', 'listeners', 'breakerOpens', 'loadedAt', 'reloads', 'received', 'invalidationsReceived']);
/** Keys that describe, not count: the first worker's. */
const FIRST_KEYS = new Set(['policy']);

/** Every worker's /stats as one: counts add up, states say the worst, descriptions are the first worker's. */
export function mergeStats(list: readonly unknown[]): unknown {
  const present = list.filter((v) => v !== null && v !== undefined);
  if (present.length === 0) return list[0] ?? null;
  const first = present[0];
  if (typeof first === 'number') return present.reduce<number>((a, v) => a + (typeof v === 'number' ? v : 0), 0);
  if (typeof first === 'string') {
    if (present.every((v) => v === first)) return first;
    for (const worst of ['degraded', 'open', 'half-open']) if (present.includes(worst)) return worst;
    return first;
  }
  if (typeof first === 'boolean' || Array.isArray(first) || typeof first !== 'object') return first;
  const out: Record<string, unknown> = {};
  const keys = new Set<string>();
  for (const v of present) if (typeof v === 'object' && !Array.isArray(v)) for (const k of Object.keys(v as object)) keys.add(k);
  for (const k of keys) {
    const values = present.map((v) => (v as Record<string, unknown>)[k]);
    if (FIRST_KEYS.has(k)) out[k] = values.find((v) => v !== undefined);
    else if (LARGEST_KEYS.has(k) && values.every((v) => typeof v === 'number' || v === undefined)) out[k] = Math.max(...values.map((v) => (typeof v === 'number' ? v : -Infinity)));
    else out[k] = mergeStats(values);
  }
  return out;
}
