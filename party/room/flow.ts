/**
 * Flow control (PROTOCOL R18): what one socket or one user may ask of the room, so that nobody's flood
 * costs anyone else more than a bounded share. Three bounds, each checked before any work is done:
 * - frames per user (a token bucket over every frame of any of their sockets, valid or not: floods of
 *   garbage cost too, and reconnecting does not refill it);
 * - messages per user in this room (a token bucket from the room's settings, or the deployment's default;
 *   operators and inbox deliveries are exempt: an inbox paces its own devices);
 * - commands per socket decided but not yet durable (the writer's count), so no socket fills the batch.
 * Over any of them the room answers `rate_limited` with `retryAfterMs` and closes the socket (4029): the
 * client resends from the refused command on, in order, once the time has passed. State is two buckets per
 * user seen recently, pruned past 10,000 users (full buckets first), so it does not grow with input.
 */
import { LIMITS, type Identity } from "../protocol/index.ts";
import { KeyedBuckets } from "../core/keyed-buckets.ts";
import type { KaiwaConfig } from "../config.ts";
import type { RoomCore } from "../core/room-core.ts";

/** Users whose bucket is remembered at most (the idle ones go first). */
const MAX_USER_BUCKETS = 10_000;

export class RoomFlow {
  private readonly frames = new KeyedBuckets(MAX_USER_BUCKETS);
  private readonly users = new KeyedBuckets(MAX_USER_BUCKETS);
  readonly counters = { framesRefused: 0, messagesRefused: 0, pendingRefused: 0 };

  constructor(
    private readonly config: KaiwaConfig,
    private readonly core: () => RoomCore,
    private readonly now: () => number = Date.now,
  ) {}

  /** One inbound frame from `who`: 0, or how long they must wait (then the socket is closed). */
  frame(who: Identity): number {
    const now = this.now();
    const wait = this.frames.of(who.id, LIMITS.socketFrameBurst, LIMITS.socketFramesPerSecond, now).take(1, now);
    if (wait > 0) this.counters.framesRefused++;
    return wait;
  }

  /** One new message by `who` (resends of a decided one are free): 0, or how long until they may post again. */
  message(who: Identity): number {
    if (who.role === "operator") return 0;
    const { perSecond, burst } = this.limits();
    if (perSecond === 0) return 0;
    const now = this.now();
    const bucket = this.users.of(who.id, burst, perSecond, now);
    bucket.reset(burst, perSecond, now); // the room's settings may have changed since the bucket was made
    if (bucket.take(1, now) === 0) return 0;
    this.counters.messagesRefused++;
    // Come back when half a burst is there: a client that resends on reconnect should not be cut off again
    // after one message (each cut-off costs a reconnect and a welcome).
    return bucket.timeUntil(Math.ceil(burst / 2), now);
  }

  /** A socket with this many commands waiting for the durable write may not add one more. */
  overPending(pending: number): boolean {
    const over = pending >= LIMITS.maxPendingPerSocket;
    if (over) this.counters.pendingRefused++;
    return over;
  }

  private limits(): { perSecond: number; burst: number } {
    const settings = this.core().settings;
    return {
      perSecond: settings.messagesPerSecond ?? this.config.room.messagesPerSecond,
      burst: settings.messageBurst ?? this.config.room.messageBurst,
    };
  }
}
