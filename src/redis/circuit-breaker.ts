export type BreakerState = 'closed' | 'open' | 'half-open';

/**
 * Skips a dependency while it keeps failing. Closed: calls go through; `threshold` consecutive
 * failures open it. Open: calls are refused for `cooldownMs`, then one call is let through as a
 * probe (half-open); its success closes the breaker, its failure opens it again.
 */
export class CircuitBreaker {
  private failures = 0;
  private openedAt = 0;
  private probing = false;
  private current: BreakerState = 'closed';
  opens = 0;

  constructor(
    private readonly threshold: number,
    private readonly cooldownMs: number,
    private readonly onChange?: (state: BreakerState) => void,
  ) {}

  get state(): BreakerState {
    return this.current;
  }

  /** Whether a call may go ahead now. */
  allow(now = Date.now()): boolean {
    if (this.current === 'closed') return true;
    if (this.current === 'open' && now - this.openedAt >= this.cooldownMs) {
      this.set('half-open');
      this.probing = false;
    }
    if (this.current === 'half-open' && !this.probing) {
      this.probing = true;
      return true;
    }
    return false;
  }

  success(): void {
    this.failures = 0;
    this.probing = false;
    if (this.current !== 'closed') this.set('closed');
  }

  failure(now = Date.now()): void {
    this.failures++;
    this.probing = false;
    if (this.current === 'half-open' || (this.current === 'closed' && this.failures >= this.threshold)) {
      this.openedAt = now;
      this.opens++;
      this.set('open');
    }
  }

  private set(state: BreakerState): void {
    this.current = state;
    this.onChange?.(state);
  }
}
