/**
 * Viewers' frame budget (PROTOCOL R18, as in rooms: room/flow.ts): one token bucket per user over every
 * frame of any of their sockets on this shard, valid or not, so a flood is cut off (4029) before anything
 * decodes it. Users seen recently are remembered, at most MAX_BUCKETS (core/keyed-buckets.ts), so the map
 * does not grow with input.
 */
import { LIMITS, type Identity } from "../protocol/index.ts";
import { KeyedBuckets } from "../core/keyed-buckets.ts";

/** Users whose frame bucket is remembered at most. */
const MAX_BUCKETS = 10_000;

export class FrameBudget {
  private readonly buckets = new KeyedBuckets(MAX_BUCKETS);

  /** One frame from `who`: 0, or how long they must wait (then the socket is cut off). */
  take(who: Identity, now: number = Date.now()): number {
    return this.buckets.of(who.id, LIMITS.socketFrameBurst, LIMITS.socketFramesPerSecond, now).take(1, now);
  }
}
