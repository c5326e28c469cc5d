/**
 * Flow control (PROTOCOL R18): what one socket or one user may ask of the room, so that nobody's flood
 * costs anyone else more than a bounded share. Three bounds, each checked before any work is done:
 * - frames per socket (a token bucket over every frame, valid or not: floods of garbage cost too);
 * - messages per user in this room (a token bucket from the room's settings, or the deployment's default;
 *   operators and inbox deliveries are exempt: an inbox paces its own devices);
 * - commands per socket decided but not yet durable (the writer's count), so no socket fills the batch.
 * Over any of them the room answers `rate_limited` with `retryAfterMs` and closes the socket (4029): the
 * client resends from the refused command on, in order, once the time has passed. State is one entry per
 * open socket and one per user who posted recently, and both are pruned, so neither grows with input.
 */
import { LIMITS, type Identity } from "../protocol/index.ts";
import { TokenBucket } from "../core/token-bucket.ts";
import type { KaiwaConfig } from "../config.ts";
import type { RoomCore } from "../core/room-core.ts";

/** Users whose bucket is remembered at most (the idle ones go first). */
const MAX_USER_BUCKETS = 10_000;

export class RoomFlow {
  private readonly sockets = new Map<string, TokenBucket>();
  private readonly users = new Map<string, TokenBucket>();
  readonly counters = { framesRefused: 0, messagesRefused: 0, pendingRefused: 0 };

  constructor(
    private readonly config: KaiwaConfig,
    private readonly core: () => RoomCore,
    private readonly now: () => number = Date.now,
  ) {}

  /** One inbound frame on socket `id`: 0, or how long the socket must wait (then it is closed). */
  frame(id: string): number {
    let bucket = this.sockets.get(id);
    if (!bucket) this.sockets.set(id, (bucket = new TokenBucket(LIMITS.socketFrameBurst, LIMITS.socketFramesPerSecond, this.now())));
    const wait = bucket.take(1, this.now());
    if (wait > 0) this.counters.framesRefused++;
    return wait;
  }

  /** One new message by `who` (resends of a decided one are free): 0, or how long until they may post again. */
  message(who: Identity): number {
    if (who.role === "operator") return 0;
    const { perSecond, burst } = this.limits();
    if (perSecond === 0) return 0;
    const now = this.now();
    let bucket = this.users.get(who.id);
    if (!bucket) {
      if (this.users.size >= MAX_USER_BUCKETS) this.pruneUsers(now);
      this.users.set(who.id, (bucket = new TokenBucket(burst, perSecond, now)));
    } else {
      bucket.reset(burst, perSecond, now);
    }
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

  forget(socketId: string): void {
    this.sockets.delete(socketId);
  }

  private limits(): { perSecond: number; burst: number } {
    const settings = this.core().settings;
    return {
      perSecond: settings.messagesPerSecond ?? this.config.room.messagesPerSecond,
      burst: settings.messageBurst ?? this.config.room.messageBurst,
    };
  }

  /** Full buckets say nothing a new one would not: dropped first; then the oldest, if still too many. */
  private pruneUsers(now: number): void {
    for (const [user, bucket] of this.users) if (bucket.full(now)) this.users.delete(user);
    for (const user of this.users.keys()) {
      if (this.users.size < MAX_USER_BUCKETS) break;
      this.users.delete(user);
    }
  }
}
