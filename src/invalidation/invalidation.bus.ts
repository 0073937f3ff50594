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
}

export interface BusStats {
  sent: number;
  received: number;
  /** Times the subscription dropped and L1 was flushed on resubscribe. */
  resyncs: number;
  publishErrors: number;
  /** Messages on the channel that were not Tiercel invalidations (any shape, any size): ignored. */
  ignored: number;
}

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
  readonly stats: BusStats = { sent: 0, received: 0, resyncs: 0, publishErrors: 0, ignored: 0 };
  private dropped = false;
  private subscribed = false;
  private everReady = false;

  constructor(
    private readonly publisher: RedisClient,
    readonly subscriber: RedisClient,
    private readonly channel: string,
    private readonly instanceId: string,
    private readonly log: Logger,
  ) {}

  /**
   * Subscribes in the background: start-up never waits on Redis. Until the subscription is up,
   * the instance counts as having missed messages, so it resyncs (flushes L1) when it comes.
   */
  start(onMessage: (m: InvalidationMessage) => void, onResync: () => void): void {
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
        this.stats.received++;
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

  async publish(invalidation: Invalidation & { traceparent?: string }): Promise<boolean> {
    const message: InvalidationMessage = { ...invalidation, from: this.instanceId, at: Date.now() };
    try {
      await this.publisher.publish(this.channel, JSON.stringify(message));
      this.stats.sent++;
      return true;
    } catch (err) {
      this.stats.publishErrors++;
      this.log.warn({ err }, 'invalidation not published');
      return false;
    }
  }

  async close(): Promise<void> {
    this.subscriber.disconnect();
  }
}
