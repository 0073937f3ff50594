import type { Logger } from 'pino';
import type { RedisClient } from '../redis/redis.client';
import type { Invalidation } from './invalidation';

/** A message on the invalidation channel. */
export interface InvalidationMessage extends Invalidation {
  /** INSTANCE_ID of the sender, so it skips its own message. */
  from: string;
  at: number;
  /** The sending span's W3C traceparent, so receivers link their trace to it. */
  traceparent?: string;
  /** The invalidation's number in the instance group's sequence (INCR in Redis); absent when it could not be had. */
  seq?: number;
}

export interface BusStats {
  sent: number;
  received: number;
  /** Times the subscription dropped and L1 was flushed on resubscribe. */
  resyncs: number;
  publishErrors: number;
  /** L1 flushes because the sequence in Redis was ahead of every message heard: messages were lost. */
  gapFlushes: number;
  /** The highest invalidation number this instance knows was applied. */
  sequence: number;
  /** ok: the sequence is being checked; degraded: Redis has not answered the check for a while, missed invalidations would go unnoticed. */
  state: 'ok' | 'degraded';
  /** Messages on the channel that were not Tiercel invalidations (any shape, any size): ignored. */
  ignored: number;
}

const PUBLISH_ATTEMPTS = 3;
/** The sequence unreadable this long: the bus is degraded. */
const DEGRADED_AFTER_MS = 1500;

/** A subscription that comes up this soon after start has missed nothing. */
const START_GRACE_MS = 1000;

/** Larger messages are not Tiercel's: a real one names at most a few hundred URLs or tags. */
const MAX_MESSAGE_BYTES = 1 << 20;

const strings = (v: unknown): boolean => Array.isArray(v) && v.length <= 10_000 && v.every((x) => typeof x === 'string');

/**
 * A message from the channel, checked before anything touches it: anyone who can reach Redis
 * can publish there, so a payload of any shape is hostile until proven to be an invalidation.
 */
export function parseInvalidationMessage(payload: string): InvalidationMessage | null {
  if (typeof payload !== 'string' || payload.length > MAX_MESSAGE_BYTES) return null;
  let m: unknown;
  try {
    m = JSON.parse(payload);
  } catch {
    return null;
  }
  if (m === null || typeof m !== 'object' || Array.isArray(m)) return null;
  const msg = m as Record<string, unknown>;
  if (typeof msg.from !== 'string' || (msg.soft !== undefined && typeof msg.soft !== 'boolean')) return null;
  if (msg.traceparent !== undefined && typeof msg.traceparent !== 'string') return null;
  if (msg.seq !== undefined && !(Number.isSafeInteger(msg.seq) && (msg.seq as number) > 0)) return null;
  const t = msg.target as Record<string, unknown> | null | undefined;
  if (t === null || typeof t !== 'object' || Array.isArray(t)) return null;
  switch (t.kind) {
    case 'urls': if (!strings(t.keys)) return null; break;
    case 'tags': if (!strings(t.tags)) return null; break;
    case 'pattern': if (typeof t.pattern !== 'string') return null; break;
    case 'all': break;
    default: return null;
  }
  return msg as unknown as InvalidationMessage;
}

/**
 * Cluster-wide invalidation over Redis Pub/Sub. Pub/Sub is fire-and-forget: a message sent
 * while this instance's subscription was down is lost, so when the subscription comes back
 * after a drop, `onResync` runs (the instance flushes its L1) before anything else is trusted.
 */
export class InvalidationBus {
  readonly stats: BusStats = { sent: 0, received: 0, resyncs: 0, publishErrors: 0, gapFlushes: 0, sequence: 0, state: 'ok', ignored: 0 };
  private checker: NodeJS.Timeout | null = null;
  /** A sequence value seen ahead of every message at the last check: a gap, if it is still there at the next. */
  private gapAt = 0;
  private lastCheckOk = Date.now();
  /** Adopt the next sequence read without flushing (at start, and right after a resync flushed everything). */
  private adoptNext = true;
  private onResync: () => void = () => {};
  private startedAt = 0;
  private dropped = false;
  private subscribed = false;
  private everReady = false;
  /**
   * With several workers: the sender id all this instance's workers share before their number.
   * Their messages were applied here through the primary already; they are applied again (an
   * invalidation is idempotent, and this covers a relay that failed) but not counted as received.
   */
  siblingPrefix: string | null = null;

  constructor(
    private readonly publisher: RedisClient,
    readonly subscriber: RedisClient,
    private readonly channel: string,
    private readonly instanceId: string,
    private readonly log: Logger,
    /** Where the invalidation sequence lives: `<prefix>invalidation:seq`. */
    private readonly sequenceKey: string = `${channel}:seq`,
    /** How often the sequence is compared with what was heard. */
    private readonly checkEveryMs = 400,
    /** Calls to Redis give up after this long (REDIS_TIMEOUT). */
    private readonly timeoutMs = 250,
  ) {}

  /**
   * Subscribes in the background: start-up never waits on Redis. Until the subscription is up,
   * the instance counts as having missed messages, so it resyncs (flushes L1) when it comes.
   */
  start(onMessage: (m: InvalidationMessage) => void, onResync: () => void): void {
    this.onResync = onResync;
    this.startedAt = Date.now();
    // The sequence as it stands at start is adopted at once: L1 is empty, nothing was missed.
    void this.checkSequence();
    this.checker = setInterval(() => void this.checkSequence(), this.checkEveryMs);
    this.checker.unref();
    this.subscriber.on('message', (channel: string, payload: string) => {
      // Nothing on the channel may end the process: a handler that throws is logged, not fatal.
      try {
        if (channel !== this.channel) return;
        const message = parseInvalidationMessage(payload);
        if (message === null) {
          this.stats.ignored++;
          this.log.warn({ payload: String(payload).slice(0, 200) }, 'ignoring a message on the invalidation channel that is not an invalidation');
          return;
        }
        if (message.from === this.instanceId) return;
        if (this.siblingPrefix === null || !message.from.startsWith(this.siblingPrefix)) this.stats.received++;
        if (message.seq !== undefined && message.seq > this.stats.sequence) this.stats.sequence = message.seq;
        onMessage(message);
      } catch (err) {
        this.stats.ignored++;
        this.log.error({ err }, 'invalidation message handler failed');
      }
    });
    this.subscriber.on('close', () => {
      if (this.subscribed) this.dropped = true;
    });
    const startedAt = Date.now();
    this.subscriber.on('ready', () => {
      try {
        // Connecting in the first moments of start-up misses nothing: L1 is still empty.
        if (this.dropped && !this.everReady && Date.now() - startedAt < START_GRACE_MS) this.dropped = false;
        this.everReady = true;
        if (!this.dropped) return;
        this.dropped = false;
        this.stats.resyncs++;
        this.log.warn('invalidation subscription was interrupted: flushing L1, messages may have been missed');
        this.adoptNext = true;
        onResync();
      } catch (err) {
        this.log.error({ err }, 'invalidation resync failed');
      }
    });
    this.subscriber.on('error', (err: Error) => this.log.debug({ err }, 'invalidation subscriber error'));
    this.everReady = this.subscriber.status === 'ready';
    if (!this.everReady) {
      // Redis is away at start: ioredis subscribes when it connects; after the first moments,
      // L1 may hold objects invalidated meanwhile, so that counts as a resync.
      this.dropped = true;
    }
    this.subscribed = true;
    this.subscriber.subscribe(this.channel).then(
      () => this.log.debug({ channel: this.channel }, 'invalidation channel subscribed'),
      (err: unknown) => this.log.warn({ err }, 'invalidation channel not subscribed'),
    );
  }

  /**
   * Numbers the invalidation in the group's sequence, then publishes it, retried: a message lost
   * on the way is still noticed by every instance through the sequence (checkSequence). Resolves
   * to whether the message went out.
   */
  async publish(invalidation: Invalidation & { traceparent?: string }): Promise<boolean> {
    const seq = await this.withDeadline(() => this.publisher.incr(this.sequenceKey)).catch(() => undefined);
    if (seq !== undefined && seq > this.stats.sequence) this.stats.sequence = seq;
    const message: InvalidationMessage = { ...invalidation, from: this.instanceId, at: Date.now(), seq };
    const payload = JSON.stringify(message);
    for (let attempt = 0; attempt < PUBLISH_ATTEMPTS; attempt++) {
      try {
        await this.withDeadline(() => this.publisher.publish(this.channel, payload));
        this.stats.sent++;
        return true;
      } catch (err) {
        this.stats.publishErrors++;
        if (attempt === PUBLISH_ATTEMPTS - 1) this.log.warn({ err }, 'invalidation not published');
        else await new Promise((r) => setTimeout(r, 50 * (attempt + 1)));
      }
    }
    return false;
  }

  /**
   * Compares the group's invalidation sequence in Redis with the highest one heard. A value
   * ahead at two checks in a row means a message was lost (a message in flight has long arrived
   * by then): L1 is flushed, as on a resubscribe. While Redis does not answer for a while, the
   * bus reports itself degraded, as missed invalidations could then go unnoticed.
   */
  async checkSequence(): Promise<void> {
    let value: number;
    try {
      const raw = await this.withDeadline(() => this.publisher.get(this.sequenceKey));
      value = raw === null ? 0 : Number(raw);
      if (!Number.isSafeInteger(value) || value < 0) throw new Error(`the invalidation sequence holds ${JSON.stringify(raw)}`);
    } catch (err) {
      if (Date.now() - this.lastCheckOk > DEGRADED_AFTER_MS && this.stats.state === 'ok') {
        this.stats.state = 'degraded';
        this.log.warn({ err: err instanceof Error ? err.message : String(err) }, 'invalidation sequence unreadable: missed invalidations would go unnoticed');
      }
      return;
    }
    this.lastCheckOk = Date.now();
    if (this.stats.state === 'degraded') {
      this.stats.state = 'ok';
      // Unreadable for a while: anything may have been missed meanwhile.
      this.flushForGap(value, 'the invalidation sequence is readable again');
      return;
    }
    if (this.adoptNext) {
      this.adoptNext = false;
      // Read first long after start (Redis was away): L1 may hold what was invalidated meanwhile.
      if (this.stats.resyncs === 0 && Date.now() - this.startedAt > START_GRACE_MS && value > this.stats.sequence) return this.flushForGap(value, 'the invalidation sequence was first read late');
      this.stats.sequence = Math.max(this.stats.sequence, value);
      return;
    }
    if (value <= this.stats.sequence) {
      this.gapAt = 0;
      return;
    }
    if (this.gapAt !== 0 && value >= this.gapAt) this.flushForGap(value, 'invalidations were missed');
    else this.gapAt = value;
  }

  private flushForGap(value: number, why: string): void {
    this.gapAt = 0;
    this.stats.gapFlushes++;
    this.stats.sequence = Math.max(this.stats.sequence, value);
    this.log.warn({ sequence: value }, `${why}: flushing L1`);
    try {
      this.onResync();
    } catch (err) {
      this.log.error({ err }, 'invalidation resync failed');
    }
  }

  private withDeadline<T>(op: () => Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`Redis did not answer within ${this.timeoutMs} ms`)), this.timeoutMs);
    });
    return Promise.race([op(), deadline]).finally(() => clearTimeout(timer));
  }

  async close(): Promise<void> {
    if (this.checker) clearInterval(this.checker);
    this.subscriber.disconnect();
  }
}
