import { ForwardReason, forwardStatus, hitStatus } from '../http-cache/cache-status';

/** The tier that served a response. `origin`: fetched; `none`: Tiercel answered itself (errors, PURGE). */
export const SERVED = ['l1', 'l2', 'origin', 'none'] as const;
export type Served = (typeof SERVED)[number];

/**
 * How a request was answered, after Pingora's CachePhase:
 * - hit: fresh from a tier; stale: stale served by the rules (max-stale, stale-while-revalidate);
 * - revalidated: a stored object confirmed by the origin's 304;
 * - stale-if-error: a stored object standing in for an origin error (RFC 5861 §4);
 * - collapsed: served from another request's fill (request coalescing);
 * - miss: looked up, fetched from the origin; pass: fetched without the cache;
 * - purge: a PURGE answered; synth: an answer Tiercel made itself (errors, only-if-cached).
 */
export const PHASES = ['hit', 'stale', 'revalidated', 'stale-if-error', 'collapsed', 'miss', 'pass', 'purge', 'synth'] as const;
export type Phase = (typeof PHASES)[number];

interface Fields {
  fwd: ForwardReason | null;
  fwdStatus: number | null;
  stored: boolean;
  /** Seconds of freshness left (negative: stale), when the response came from or went to the cache. */
  ttl: number | null;
  /** A token for Cache-Status `detail`: why it was forwarded or not stored, or what went wrong. */
  detail: string | null;
}

/**
 * One record of what happened to a request. Cache-Status, the metric labels, the span
 * attributes, the access log and /stats are all derived from it, so they cannot disagree.
 * Every record has the same fields in the same order, so V8 keeps one shape for all of them.
 */
export type RequestRecord =
  | ({ phase: 'hit' | 'stale'; served: 'l1' | 'l2' } & Fields & { fwd: null; ttl: number })
  | ({ phase: 'revalidated' | 'stale-if-error' | 'collapsed'; served: 'l1' | 'l2' } & Fields & { fwd: ForwardReason })
  | ({ phase: 'miss' | 'pass'; served: 'origin' } & Fields & { fwd: ForwardReason })
  | ({ phase: 'purge' | 'synth'; served: 'none' } & Fields & { fwd: ForwardReason });

export function hitRecord(phase: 'hit' | 'stale', served: 'l1' | 'l2', ttl: number): RequestRecord {
  return { phase, served, fwd: null, fwdStatus: null, stored: false, ttl, detail: null };
}

export function storedRecord(phase: 'revalidated' | 'stale-if-error' | 'collapsed', served: 'l1' | 'l2', fwd: ForwardReason, fwdStatus: number | null, ttl: number, detail: string | null): RequestRecord {
  return { phase, served, fwd, fwdStatus, stored: false, ttl, detail };
}

export function originRecord(phase: 'miss' | 'pass', fwd: ForwardReason, fwdStatus: number, stored: boolean, ttl: number | null, detail: string | null): RequestRecord {
  return { phase, served: 'origin', fwd, fwdStatus, stored, ttl, detail };
}

export function synthRecord(phase: 'purge' | 'synth', fwd: ForwardReason, detail: string): RequestRecord {
  return { phase, served: 'none', fwd, fwdStatus: null, stored: false, ttl: null, detail };
}

/** Before any step has decided: a request that ended this way never got an answer (the client left). */
export const UNANSWERED: RequestRecord = Object.freeze(synthRecord('synth', 'bypass', 'client-aborted')) as RequestRecord;

/** The Cache-Status field value (RFC 9211) for a record. */
export function cacheStatusOf(name: string, r: RequestRecord): string {
  if (r.fwd === null) return hitStatus(name, r.served, r.ttl!);
  return forwardStatus(name, {
    fwd: r.fwd,
    fwdStatus: r.fwdStatus ?? undefined,
    stored: r.stored,
    collapsed: r.phase === 'collapsed',
    ttlSeconds: r.ttl ?? undefined,
    detail: r.detail ?? undefined,
  });
}

/** Whether the request looked the cache up and found nothing usable without the origin. */
export function missed(r: RequestRecord): boolean {
  if (r.phase === 'hit' || r.phase === 'stale' || r.phase === 'purge') return false;
  return r.fwd !== 'method' && r.fwd !== 'bypass';
}

/** The outcome label of the metrics (hit, stale, revalidated, miss, bypass, error), as dashboards and alerts use it. */
export const OUTCOMES = ['hit', 'stale', 'revalidated', 'miss', 'bypass', 'error'] as const;
export type Outcome = (typeof OUTCOMES)[number];

export function outcomeOf(phase: Phase, lookedUp: boolean): Outcome {
  switch (phase) {
    case 'hit': return 'hit';
    case 'stale':
    case 'stale-if-error': return 'stale';
    case 'revalidated': return 'revalidated';
    case 'collapsed':
    case 'miss': return 'miss';
    case 'pass': return lookedUp ? 'miss' : 'bypass';
    case 'purge': return 'bypass';
    case 'synth': return 'error';
  }
}
