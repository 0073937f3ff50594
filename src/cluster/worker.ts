import cluster from 'node:cluster';
import type { ListenOptions } from 'node:net';
import type { CacheTier } from '../cache/cache-tier';
import { deliverySlots } from '../cache/cached-response';
import { encodeEntry } from '../cache/entry-codec';
import type { MemoryTier } from '../cache/memory.tier';
import { deliveryHeaders, TiercelConfig } from '../config/config';
import type { InvalidationTarget } from '../invalidation/invalidation';
import { PeerTier, WorkerLeases } from './peer.tier';
import { Rpc } from './rpc';

/** This process's place in its instance, when it is one of several workers. */
export interface WorkerContext {
  /** 1..count; a replacement keeps the index of the worker it replaces. */
  index: number;
  count: number;
  rpc: Rpc;
}

let context: WorkerContext | null | undefined;

/** Set by the primary in each worker's environment; read only under cluster. */
export const WORKER_INDEX_VAR = 'TIERCEL_WORKER_INDEX';
export const WORKER_COUNT_VAR = 'TIERCEL_WORKER_COUNT';

/** The worker's context, or null in a single-process Tiercel (WORKERS=1, or started in-process). */
export function workerContext(): WorkerContext | null {
  if (context !== undefined) return context;
  const index = Number(process.env[WORKER_INDEX_VAR]);
  const count = Number(process.env[WORKER_COUNT_VAR]);
  if (!cluster.isWorker || !Number.isSafeInteger(index) || index < 1 || !(count >= 1) || typeof process.send !== 'function') {
    context = null;
    return null;
  }
  const rpc = new Rpc((m) => process.send!(m));
  process.on('message', (m) => rpc.receive(m));
  process.once('disconnect', () => rpc.close());
  context = { index, count, rpc };
  return context;
}

/**
 * Where a data port listens. Workers on Linux each bind the port themselves with SO_REUSEPORT:
 * the kernel spreads connections over them and no connection passes through the primary.
 * Elsewhere, the cluster module's distribution (the primary accepts and hands connections over).
 */
export function dataListenOptions(port: number, host: string): ListenOptions {
  if (workerContext() !== null && process.platform === 'linux') return { port, host, reusePort: true, exclusive: true };
  return { port, host };
}

/** A worker's own admin port: loopback, ephemeral, its own (not shared through the primary). */
export function adminListenOptions(config: TiercelConfig): ListenOptions {
  if (workerContext() !== null) return { port: 0, host: '127.0.0.1', exclusive: true };
  return { port: config.admin.port, host: config.admin.host };
}

/** A worker's share of the instance's configuration: its part of CACHE_SIZE_MB. */
export function applyWorkerShare(config: TiercelConfig): void {
  const w = workerContext();
  if (w === null) return;
  config.cache.sizeBytes = Math.floor(config.cache.sizeBytes / w.count);
}

/** The cache tiers: L1, then (in a worker) the other workers' L1, then L2. */
export function cacheTiers(config: TiercelConfig, l1: CacheTier, l2: CacheTier | null): CacheTier[] {
  const w = workerContext();
  if (w === null || w.count < 2) return l2 === null ? [l1] : [l1, l2];
  const leaseMs = config.redis?.leaseMs ?? config.cache.coalesceTimeoutMs;
  const peers = new PeerTier(w.rpc, deliverySlots(deliveryHeaders(config)), new WorkerLeases(w.rpc, leaseMs, l2?.leases ?? null));
  return l2 === null ? [l1, peers] : [l1, peers, l2];
}

/** The sender id on the invalidation bus: one per worker, so each hears its siblings' messages (and their sequence numbers). */
export function busSenderId(instanceId: string): string {
  const w = workerContext();
  return w === null ? instanceId : `${instanceId}#${w.index}`;
}

export interface WorkerServices {
  l1: MemoryTier;
  config: TiercelConfig;
  reload(signal: string, only?: ReadonlySet<string>): Promise<Record<string, { ok: boolean; error?: string }>>;
  reloadPolicy(): { ok: boolean; error?: string };
}

/** Answers the primary on behalf of the other workers: lookups in this L1, invalidations, reloads. */
export function serveSiblings(s: WorkerServices): void {
  const w = workerContext();
  if (w === null) return;
  const slots = deliverySlots(deliveryHeaders(s.config));
  const key = (a: { k?: unknown }) => {
    if (typeof a?.k !== 'string') throw new Error('a key is required');
    return a.k;
  };
  w.rpc.handle('l1.get', (a: { k: string; v: unknown }) => {
    const e = s.l1.get(key(a), typeof a.v === 'string' ? a.v : '');
    return e === undefined ? null : encodeEntry(e, slots);
  });
  w.rpc.handle('l1.variants', (a: { k: string }) => {
    const out: [string, Buffer][] = [];
    for (const [sel, obj] of s.l1.variantsOf(key(a))) out.push([sel, encodeEntry(obj, slots)]);
    return out;
  });
  w.rpc.handle('l1.delete', (a: { k: string }) => s.l1.delete(key(a)));
  w.rpc.handle('l1.invalidate', (a: { target: InvalidationTarget; soft: unknown }) => s.l1.invalidate(a.target, a.soft === true));
  w.rpc.handle('reload', (a: { signal?: unknown; only?: unknown }) =>
    s.reload(typeof a?.signal === 'string' ? a.signal : 'SIGHUP', Array.isArray(a?.only) ? new Set(a.only.filter((x): x is string => typeof x === 'string')) : undefined),
  );
  w.rpc.handle('reload.policy', () => s.reloadPolicy());
}

/** Tells the primary this worker serves, and where its admin port is. */
export function announceReady(info: { adminPort: number; proxyPort: number; tlsPort: number | null; mode: string }): void {
  workerContext()?.rpc.notify('ready', { ...info, pid: process.pid });
}
