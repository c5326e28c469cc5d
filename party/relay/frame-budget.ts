/**
 * Viewers' frame budget (PROTOCOL R18, as in rooms: room/flow.ts): one token bucket per user over every
 * frame of any of their sockets on this shard, valid or not, so a flood is cut off (4029) before anything
 * decodes it. Users seen recently are remembered, at most MAX_BUCKETS (full buckets are dropped first), so
 * the map does not grow with input.
 */
import { LIMITS, type Identity } from "../protocol/index.ts";
import { TokenBucket } from "../core/token-bucket.ts";

/** Users whose frame bucket is remembered at most. */
const MAX_BUCKETS = 10_000;

export class FrameBudget {
  private readonly buckets = new Map<string, TokenBucket>();

  /** One frame from `who`: 0, or how long they must wait (then the socket is cut off). */
  take(who: Identity, now: number = Date.now()): number {
    let bucket = this.buckets.get(who.id);
    if (!bucket) {
      if (this.buckets.size >= MAX_BUCKETS) for (const [user, b] of this.buckets) if (b.full(now)) this.buckets.delete(user);
      this.buckets.set(who.id, (bucket = new TokenBucket(LIMITS.socketFrameBurst, LIMITS.socketFramesPerSecond, now)));
    }
    return bucket.take(1, now);
  }
}
