import cluster, { type Worker } from 'node:cluster';
import { createServer } from 'node:net';
import type { Logger } from 'pino';
import { TIERCEL_VERSION } from '../common/version';
import type { TiercelConfig } from '../config/config';
import { AdminGateway, GatewayHost, GatewayWorker } from './admin-gateway';
import { asBuffer, LeaseTable } from './peer.tier';
import { Rpc } from './rpc';
import { WORKER_COUNT_VAR, WORKER_INDEX_VAR } from './worker';

interface Slot extends GatewayWorker {
  worker: Worker | null;
  rpc: Rpc | null;
  /** Deaths in a row within FAST_DEATH_MS of starting: the replacement waits longer each time. */
  fastDeaths: number;
}

interface ReadyInfo {
  adminPort: number;
  proxyPort: number;
  tlsPort: number | null;
  mode: string;
}

/** A worker that dies this soon after starting is crashing, not failing once: back off. */
const FAST_DEATH_MS = 5000;
const MAX_BACKOFF_MS = 10_000;
const START_TIMEOUT_MS = 60_000;
const PEER_CALL_MS = 1000;

/**
 * The primary of a WORKERS>1 instance: it starts the workers (the first alone, so a port of 0
 * is chosen once and the others bind the same), replaces a worker that dies, relays between
 * workers (lookups in each other's L1, invalidations, fill leases), serves the one admin port,
 * and on SIGTERM drains every worker. It serves no request itself and loads no cache.
 */
export async function runPrimary(config: TiercelConfig, log: Logger): Promise<void> {
  const n = config.workers;
  const leases = new LeaseTable();
  const slots: Slot[] = Array.from({ length: n }, (_, i) => ({ index: i + 1, pid: 0, adminPort: null, ready: false, startedAt: 0, restarts: 0, worker: null, rpc: null, fastDeaths: 0 }));
  const env: Record<string, string> = { INSTANCE_ID: config.instanceId, [WORKER_COUNT_VAR]: String(n) };
  let stopping = false;
  let started = false;
  let restarts = 0;
  const waiting = new Map<number, { resolve: (i: ReadyInfo) => void; reject: (e: Error) => void }>();

  const others = (me: Slot) => slots.filter((s) => s !== me && s.ready && s.rpc !== null);
  /** The first worker to find the object answers; none: a miss. */
  const firstHit = (me: Slot, a: unknown): Promise<unknown> => {
    const peers = others(me);
    if (peers.length === 0) return Promise.resolve(null);
    return new Promise((resolve) => {
      let left = peers.length;
      for (const p of peers) {
        p.rpc!.call('l1.get', a, PEER_CALL_MS).then(
          (v) => {
            if (asBuffer(v) !== null) resolve(v);
            else if (--left === 0) resolve(null);
          },
          () => {
            if (--left === 0) resolve(null);
          },
        );
      }
    });
  };
  const sumOthers = async (me: Slot, op: string, a: unknown): Promise<number> => {
    const got = await Promise.all(others(me).map((p) => p.rpc!.call<number>(op, a, PEER_CALL_MS * 5).catch(() => 0)));
    return got.reduce((x, y) => x + (typeof y === 'number' ? y : 0), 0);
  };

  const host: GatewayHost = {
    configured: n,
    workers: () => slots,
    restarts: () => restarts,
    get stopping() {
      return stopping;
    },
    get starting() {
      return !started;
    },
    reloadPolicyInOthers: async (first) => {
      const out: { worker: number; ok: boolean; error?: string }[] = [];
      for (const s of slots) {
        if (s.index === first || !s.ready || s.rpc === null) continue;
        const r = await s.rpc.call<{ ok: boolean; error?: string }>('reload.policy', {}, 30_000).catch((err: Error) => ({ ok: false, error: err.message }));
        out.push({ worker: s.index, ok: r.ok === true, error: r.error });
      }
      return out;
    },
  };
  const gateway = new AdminGateway(host, log);

  const fork = (slot: Slot): Promise<ReadyInfo> => {
    const w = cluster.fork({ ...env, [WORKER_INDEX_VAR]: String(slot.index) });
    slot.worker = w;
    slot.pid = w.process.pid ?? 0;
    slot.ready = false;
    slot.adminPort = null;
    slot.startedAt = Date.now();
    const rpc = new Rpc((m) => {
      if (!w.isConnected()) throw new Error('the worker is gone');
      w.send(m);
    });
    slot.rpc = rpc;
    w.on('message', (m) => rpc.receive(m));
    w.on('error', (err) => log.debug({ err, worker: slot.index }, 'worker channel error'));
    const ready = new Promise<ReadyInfo>((resolve, reject) => waiting.set(slot.index, { resolve, reject }));
    rpc.handle('ready', (a: ReadyInfo) => {
      slot.ready = true;
      slot.adminPort = a.adminPort;
      waiting.get(slot.index)?.resolve(a);
      waiting.delete(slot.index);
      if (started) {
        log.info({ worker: slot.index, pid: slot.pid, restarts: slot.restarts }, 'replacement worker serving');
        gateway.workerReady(slot);
      }
    });
    rpc.handle('lease.acquire', (a: { k: string; t: string; ms: number }) => leases.acquire(slot.index, String(a.k), String(a.t), Number(a.ms) || 5000));
    rpc.handle('lease.release', (a: { k: string; t: string }) => leases.release(String(a.k), String(a.t)));
    rpc.handle('lease.held', (a: { k: string }) => leases.isHeld(String(a.k)));
    rpc.handle('peer.get', (a) => firstHit(slot, a));
    rpc.handle('peer.delete', (a) => sumOthers(slot, 'l1.delete', a));
    rpc.handle('peer.invalidate', (a) => sumOthers(slot, 'l1.invalidate', a));
    rpc.handle('peer.variants', async (a) => {
      const lists = await Promise.all(others(slot).map((p) => p.rpc!.call<unknown>('l1.variants', a, PEER_CALL_MS).catch(() => [])));
      return lists.flatMap((l) => (Array.isArray(l) ? l : []));
    });
    return ready;
  };

  const exited = new Set<() => void>();
  cluster.on('exit', (w, code, signal) => {
    const slot = slots.find((s) => s.worker === w);
    if (slot === undefined) return;
    slot.rpc?.close();
    slot.rpc = null;
    slot.worker = null;
    slot.ready = false;
    slot.adminPort = null;
    leases.dropWorker(slot.index);
    const pending = waiting.get(slot.index);
    if (pending !== undefined) {
      waiting.delete(slot.index);
      pending.reject(Object.assign(new Error(`worker ${slot.index} exited before it served (code ${code}, signal ${signal})`), { code }));
    }
    for (const f of exited) f();
    if (stopping || !started) return;
    restarts++;
    slot.restarts++;
    slot.fastDeaths = Date.now() - slot.startedAt < FAST_DEATH_MS ? slot.fastDeaths + 1 : 0;
    const delay = slot.fastDeaths === 0 ? 0 : Math.min(MAX_BACKOFF_MS, 250 * 2 ** (slot.fastDeaths - 1));
    log.error({ worker: slot.index, pid: w.process.pid, code, signal, restarts: slot.restarts, replaceInMs: delay }, 'worker died: starting a replacement');
    setTimeout(() => {
      if (stopping) return;
      fork(slot).catch((err: Error) => log.error({ worker: slot.index, err: err.message }, 'replacement worker did not start'));
    }, delay).unref();
  });

  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal, workers: slots.filter((s) => s.worker !== null).length }, 'shutting down');
    const live = () => slots.filter((s) => s.worker !== null);
    const allGone = new Promise<void>((resolve) => {
      const check = () => {
        if (live().length === 0) resolve();
      };
      exited.add(check);
      check();
    });
    for (const s of live()) {
      try {
        s.worker!.process.kill('SIGTERM');
      } catch {
        // Already gone.
      }
    }
    // Each worker drains within SHUTDOWN_TIMEOUT itself; this bound only catches one that hangs.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([allGone, new Promise<void>((r) => (timer = setTimeout(r, config.proxy.shutdownTimeoutMs + 5000)))]);
    clearTimeout(timer);
    for (const s of live()) {
      log.warn({ worker: s.index, pid: s.pid }, 'worker did not stop in time: killed');
      s.worker!.process.kill('SIGKILL');
    }
    await gateway.close();
    log.info('all workers stopped');
    process.exit(0);
  };

  const reloadAll = async (signal: string) => {
    const live = slots.filter((s) => s.ready && s.rpc !== null);
    if (live.length === 0) return;
    type Results = Record<string, { ok: boolean; error?: string }>;
    let first: Results;
    try {
      first = await live[0]!.rpc!.call<Results>('reload', { signal }, 30_000);
    } catch (err) {
      log.error({ signal, worker: live[0]!.index, err: (err as Error).message }, `${signal}: the first worker did not reload; no worker changed`);
      return;
    }
    // What the first worker refused, no other worker tries: every worker keeps the same state.
    const accepted = Object.keys(first).filter((k) => first[k]!.ok);
    const refused = Object.keys(first).filter((k) => !first[k]!.ok);
    if (refused.length > 0) log.error({ signal, refused, worker: live[0]!.index }, `${signal}: ${refused.join(', ')} refused; every worker keeps what it had`);
    for (const s of live.slice(1)) {
      if (accepted.length === 0 || s.rpc === null) continue;
      await s.rpc.call('reload', { signal, only: accepted }, 30_000).catch((err: Error) => log.error({ signal, worker: s.index, err: err.message }, `${signal}: worker did not reload`));
    }
    if (accepted.length > 0) log.info({ signal, reloaded: accepted, workers: live.length }, `${signal}: reloaded in every worker`);
  };

  let hupWhileStarting = false;
  process.on('unhandledRejection', (err) => log.error({ err }, 'unhandled rejection'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGHUP', () => {
    if (!started) hupWhileStarting = true;
    else void reloadAll('SIGHUP');
  });

  cluster.setupPrimary({ serialization: 'advanced' });
  // The admin port first: a port that cannot be bound is refused before any worker starts.
  const adminPort = await gateway.listen(config.admin.port, config.admin.host);
  // SO_REUSEPORT would let the workers join a port another program (another Tiercel) already
  // serves, splitting its traffic silently: a port that is taken is refused, as without workers.
  try {
    await portIsFree(config.proxy.port, config.proxy.host, 'PROXY_PORT');
    if (config.tls.port !== null) await portIsFree(config.tls.port, config.proxy.host, 'TLS_PORT');
  } catch (err) {
    await gateway.close();
    throw err;
  }
  let info: ReadyInfo;
  try {
    // The first worker alone: with PROXY_PORT=0 it picks the port, and the others bind the same.
    info = await withTimeout(fork(slots[0]!));
    env.PROXY_PORT = String(info.proxyPort);
    if (info.tlsPort !== null) env.TLS_PORT = String(info.tlsPort);
    await Promise.all(slots.slice(1).map((s) => withTimeout(fork(s))));
  } catch (err) {
    // The worker said why on stderr, in one line; the instance does not start.
    if (stopping) return new Promise<void>(() => {});
    stopping = true;
    for (const s of slots) s.worker?.process.kill('SIGKILL');
    await gateway.close();
    log.debug({ err: (err as Error).message }, 'a worker failed to start');
    process.exit(1);
  }
  started = true;
  log.info({ adminPort, proxyPort: info.proxyPort, ...(info.tlsPort !== null ? { tlsPort: info.tlsPort } : {}), mode: info.mode, version: TIERCEL_VERSION, workers: n, pids: slots.map((s) => s.pid) }, 'tiercel started');
  if (hupWhileStarting) void reloadAll('SIGHUP');
}

/** Binds the port alone for a moment (a port of 0 is always free). */
function portIsFree(port: number, host: string, variable: string): Promise<void> {
  if (port === 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', (err: NodeJS.ErrnoException & { variable?: string }) => {
      err.variable = variable;
      reject(err);
    });
    s.listen({ port, host, exclusive: true }, () => s.close(() => resolve()));
  });
}

function withTimeout<T>(p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('a worker did not start in time')), START_TIMEOUT_MS)))]).finally(() => clearTimeout(timer));
}
