/**
 * A token bucket (PROTOCOL R18): `capacity` tokens at most, refilled at `perSecond`. Taking costs tokens;
 * when there are too few, nothing is taken and the answer is how long until there will be. Pure: the
 * clock comes in as `now` (ms).
 */
export class TokenBucket {
  private tokens: number;
  private at: number;

  constructor(
    private capacity: number,
    private perSecond: number,
    now: number,
  ) {
    this.tokens = capacity;
    this.at = now;
  }

  /** 0 when `cost` tokens were taken; otherwise the ms until they would be there (nothing is taken). */
  take(cost: number, now: number): number {
    this.refill(now);
    if (this.tokens >= cost) {
      this.tokens -= cost;
      return 0;
    }
    if (this.perSecond <= 0) return Infinity;
    return Math.max(1, Math.ceil(((cost - this.tokens) / this.perSecond) * 1000));
  }

  /** How long until `tokens` are there (0 if they are), without taking any. */
  timeUntil(tokens: number, now: number): number {
    this.refill(now);
    if (this.tokens >= tokens) return 0;
    if (this.perSecond <= 0) return Infinity;
    return Math.max(1, Math.ceil(((tokens - this.tokens) / this.perSecond) * 1000));
  }

  /** New limits (a room's settings changed): the tokens held stay, capped at the new capacity. */
  reset(capacity: number, perSecond: number, now: number): void {
    this.refill(now);
    this.capacity = capacity;
    this.perSecond = perSecond;
    this.tokens = Math.min(this.tokens, capacity);
  }

  /** Whether the bucket is full at `now`: an idle entry that can be forgotten without changing anything. */
  full(now: number): boolean {
    this.refill(now);
    return this.tokens >= this.capacity;
  }

  private refill(now: number): void {
    if (now > this.at) this.tokens = Math.min(this.capacity, this.tokens + ((now - this.at) / 1000) * this.perSecond);
    this.at = Math.max(this.at, now);
  }
}
