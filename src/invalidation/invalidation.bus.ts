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
}

/**
 * Cluster-wide invalidation over Redis Pub/Sub. Pub/Sub is fire-and-forget: a message sent
 * while this instance's subscription was down is lost, so when the subscription comes back
 * after a drop, `onResync` runs (the instance flushes its L1) before anything else is trusted.
 */
export class InvalidationBus {
  readonly stats: BusStats = { sent: 0, received: 0, resyncs: 0, publishErrors: 0 };
  private dropped = false;
  private subscribed = false;

  constructor(
    private readonly publisher: RedisClient,
    readonly subscriber: RedisClient,
    private readonly channel: string,
    private readonly instanceId: string,
    private readonly log: Logger,
  ) {}

  async start(onMessage: (m: InvalidationMessage) => void, onResync: () => void): Promise<void> {
    this.subscriber.on('message', (channel: string, payload: string) => {
      if (channel !== this.channel) return;
      let message: InvalidationMessage;
      try {
        message = JSON.parse(payload) as InvalidationMessage;
      } catch {
        this.log.warn({ payload: payload.slice(0, 200) }, 'ignoring malformed invalidation message');
        return;
      }
      if (message.from === this.instanceId) return;
      this.stats.received++;
      onMessage(message);
    });
    this.subscriber.on('close', () => {
      if (this.subscribed) this.dropped = true;
    });
    this.subscriber.on('ready', () => {
      if (!this.dropped) return;
      this.dropped = false;
      this.stats.resyncs++;
      this.log.warn('invalidation subscription was interrupted: flushing L1, messages may have been missed');
      onResync();
    });
    this.subscriber.on('error', (err: Error) => this.log.debug({ err }, 'invalidation subscriber error'));
    try {
      await this.subscriber.subscribe(this.channel);
      this.subscribed = true;
    } catch (err) {
      // Redis is away at start: ioredis subscribes when it connects; treat that as a resync.
      this.subscribed = true;
      this.dropped = true;
      this.log.warn({ err }, 'invalidation channel not subscribed yet');
    }
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
