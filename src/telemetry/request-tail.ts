import { compileGlob, Glob } from '../invalidation/glob';
import { OUTCOMES, type Outcome } from '../proxy/request-record';
import type { AccessLine } from './request-telemetry';

/** What one tail listener wants to see; every condition given must hold. */
export interface TailFilter {
  outcomes: ReadonlySet<Outcome> | null;
  statusMin: number;
  statusMax: number;
  minDurationMs: number;
  host: Glob | null;
  path: Glob | null;
}

export class TailFilterError extends Error {}

const MAX_GLOB = 512;

function one(query: Record<string, unknown>, name: string): string | undefined {
  const v = query[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw new TailFilterError(`${name}: give it once, as a string`);
  return v;
}

/**
 * The tail's query parameters: `outcome` (comma-separated: hit, stale, revalidated, miss,
 * bypass, error), `status` (`503`, `500-599` or `5xx`), `min_ms` (minimum duration), `host`
 * and `path` (globs, `*` any run of characters). Anything else is refused, not ignored: a
 * misspelt filter would otherwise stream everything.
 */
export function parseTailFilter(query: Record<string, unknown>): TailFilter {
  for (const k of Object.keys(query)) {
    if (!['outcome', 'status', 'min_ms', 'host', 'path'].includes(k)) throw new TailFilterError(`unknown parameter ${JSON.stringify(k.slice(0, 40))}: outcome, status, min_ms, host, path`);
  }
  const f: TailFilter = { outcomes: null, statusMin: 100, statusMax: 599, minDurationMs: 0, host: null, path: null };
  const outcome = one(query, 'outcome');
  if (outcome !== undefined) {
    const set = new Set<Outcome>();
    for (const o of outcome.split(',')) {
      const t = o.trim();
      if (!(OUTCOMES as readonly string[]).includes(t)) throw new TailFilterError(`outcome: ${JSON.stringify(t.slice(0, 40))} is not one of ${OUTCOMES.join(', ')}`);
      set.add(t as Outcome);
    }
    f.outcomes = set;
  }
  const status = one(query, 'status');
  if (status !== undefined) {
    let m: RegExpExecArray | null;
    if ((m = /^([1-5])xx$/i.exec(status))) {
      f.statusMin = Number(m[1]) * 100;
      f.statusMax = f.statusMin + 99;
    } else if ((m = /^([1-5]\d\d)(?:-([1-5]\d\d))?$/.exec(status))) {
      f.statusMin = Number(m[1]);
      f.statusMax = Number(m[2] ?? m[1]);
      if (f.statusMax < f.statusMin) throw new TailFilterError('status: the range ends before it starts');
    } else {
      throw new TailFilterError('status: a code (503), a range (500-599) or a class (5xx)');
    }
  }
  const minMs = one(query, 'min_ms');
  if (minMs !== undefined) {
    const n = Number(minMs);
    if (minMs.trim() === '' || !Number.isFinite(n) || n < 0) throw new TailFilterError('min_ms: a non-negative number of milliseconds');
    f.minDurationMs = n;
  }
  for (const k of ['host', 'path'] as const) {
    const g = one(query, k);
    if (g === undefined) continue;
    if (g.length === 0 || g.length > MAX_GLOB) throw new TailFilterError(`${k}: a glob of 1 to ${MAX_GLOB} characters`);
    f[k] = compileGlob(k === 'host' ? g.toLowerCase() : g);
  }
  return f;
}

export function tailMatches(f: TailFilter, l: AccessLine): boolean {
  if (f.outcomes !== null && !f.outcomes.has(l.outcome)) return false;
  if (l.status < f.statusMin || l.status > f.statusMax) return false;
  if (l.duration_ms < f.minDurationMs) return false;
  if (f.host !== null && !f.host.matches((l.host ?? '').toLowerCase())) return false;
  if (f.path !== null && !f.path.matches(l.path)) return false;
  return true;
}

/** Where a listener's lines go: a response stream, seen only through what the tail needs. */
export interface TailSink {
  write(chunk: string): unknown;
  /** Bytes queued and not yet taken by the reader. */
  readonly writableLength: number;
  /** Cuts the listener off (the response is destroyed). */
  drop(): void;
}

interface Listener {
  filter: TailFilter;
  sink: TailSink;
}

/**
 * The live request tail behind GET /admin/tail: every finished request offered to every
 * listener whose filter it passes, as one JSON line, and to every in-process observer (the
 * status page's recent requests) as the line itself. Nobody listening costs one boolean test
 * per request. A listener that reads slower than requests finish is dropped once
 * `maxBufferedBytes` are waiting for it, never buffered without bound.
 */
export class RequestTail {
  /** Read on every request: true while anyone listens. */
  listening = false;
  private readonly listeners = new Set<Listener>();
  private readonly observers = new Set<(line: AccessLine) => void>();
  /** Listeners cut off for reading too slowly, since start. */
  dropped = 0;

  constructor(readonly maxListeners = 16, readonly maxBufferedBytes = 1 << 20) {}

  get listenerCount(): number {
    return this.listeners.size;
  }

  /** Adds a listener; null when the limit is reached. The returned function removes it. */
  subscribe(filter: TailFilter, sink: TailSink): (() => void) | null {
    if (this.listeners.size >= this.maxListeners) return null;
    const l: Listener = { filter, sink };
    this.listeners.add(l);
    this.listening = true;
    return () => this.remove(l);
  }

  /**
   * An in-process reader of every finished request, given the line object (no JSON made for
   * it). It runs on the request path: it does little, and copies what it keeps. The returned
   * function removes it.
   */
  observe(fn: (line: AccessLine) => void): () => void {
    this.observers.add(fn);
    this.listening = true;
    return () => {
      this.observers.delete(fn);
      this.listening = this.listeners.size > 0 || this.observers.size > 0;
    };
  }

  private remove(l: Listener): void {
    this.listeners.delete(l);
    this.listening = this.listeners.size > 0 || this.observers.size > 0;
  }

  publish(line: AccessLine): void {
    for (const o of this.observers) o(line);
    let json: string | null = null;
    for (const l of this.listeners) {
      if (!tailMatches(l.filter, line)) continue;
      if (l.sink.writableLength > this.maxBufferedBytes) {
        this.dropped++;
        this.remove(l);
        l.sink.drop();
        continue;
      }
      // The access log's time comes from the logger; the tail's line carries its own.
      json ??= `{"time":"${new Date().toISOString()}",${JSON.stringify(line).slice(1)}\n`;
      l.sink.write(json);
    }
  }
}
