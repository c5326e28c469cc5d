/**
 * What one device socket may ask of its inbox (PROTOCOL §7), as PROTOCOL R18 bounds it for a room's sockets:
 * - frames per socket: a token bucket over every frame but `ping`, valid or not (`socketFrameBurst`, then
 *   `socketFramesPerSecond`);
 * - requests per socket not yet answered: DMs waiting for their room's write, reads and syncs waiting for
 *   their room (`maxPendingPerSocket`), so no device fills the inbox's queues or its calls in flight;
 * - sockets per inbox (`maxSocketsPerUser`), checked at admission by the shell;
 * - new DMs per user, over all their devices (PROTOCOL R18.2, the deployment's `messagesPerSecond` and
 *   `messageBurst`): without it a user would DM at every device's frame rate, 32 devices at 100/s each,
 *   where the same user in a room is held to 10/s.
 * Over a bound the device gets `rate_limited` with `retryAfterMs` and its socket is cut off (4029): whatever
 * it sends afterwards is dropped unread, and its queued DMs are dropped, so the client resends everything
 * unacked in order (PROTOCOL I4). Entries live while their socket is open.
 *
 * Pure: the clock comes in.
 */
import { LIMITS } from "../protocol/index.ts";
import { TokenBucket } from "../core/token-bucket.ts";

/** DM clientIds remembered as paid for: far more than a client keeps unacked (its window is 256). */
const CHARGED_MAX = 4_096;

export class InboxFlow {
  private readonly buckets = new Map<string, TokenBucket>();
  /** The user's DMs, all devices together (one inbox is one user); made at the first DM. */
  private messages: TokenBucket | undefined;
  /**
   * clientIds already charged, oldest first, at most `CHARGED_MAX`: a resend is free, as in a room
   * (PROTOCOL R18.2). Without it a client resending its unacked DMs after a cut-off paid for them again, and two
   * devices of one user could keep cutting each other off without progress (measured: 90 cut-offs for 30 DMs).
   */
  private readonly charged = new Set<string>();
  private readonly pending = new Map<string, number>();
  /** Sockets cut off: their frames are dropped until they close. */
  private readonly cut = new Set<string>();
  readonly counters = { framesRefused: 0, messagesRefused: 0, pendingRefused: 0, socketsRefused: 0 };

  constructor(
    private readonly now: () => number = Date.now,
    private readonly messageLimits: { perSecond: number; burst: number } = { perSecond: 0, burst: 1 },
  ) {}

  /**
   * One new DM (PROTOCOL R18.2): 0, or how long until the user may send again (the socket is then cut off).
   * Like a room's: operators are exempt, 0 per second is no limit, and the wait is until half a burst is back.
   */
  message(clientId: string, operator: boolean): number {
    const { perSecond, burst } = this.messageLimits;
    if (operator || perSecond === 0 || this.charged.has(clientId)) return 0;
    const now = this.now();
    this.messages ??= new TokenBucket(burst, perSecond, now);
    if (this.messages.take(1, now) === 0) {
      this.charged.add(clientId);
      if (this.charged.size > CHARGED_MAX) this.charged.delete(this.charged.values().next().value!);
      return 0;
    }
    this.counters.messagesRefused++;
    return this.messages.timeUntil(Math.ceil(burst / 2), now);
  }

  /** One inbound frame on socket `id`: 0, or how long the socket must wait (it is then cut off). */
  frame(id: string): number {
    const now = this.now();
    let bucket = this.buckets.get(id);
    if (!bucket) this.buckets.set(id, (bucket = new TokenBucket(LIMITS.socketFrameBurst, LIMITS.socketFramesPerSecond, now)));
    const wait = bucket.take(1, now);
    if (wait > 0) this.counters.framesRefused++;
    return wait;
  }

  /** A request that waits for a room starts: false (and nothing counted) when the socket has too many. */
  begin(id: string): boolean {
    const pending = this.pending.get(id) ?? 0;
    if (pending >= LIMITS.maxPendingPerSocket) {
      this.counters.pendingRefused++;
      return false;
    }
    this.pending.set(id, pending + 1);
    return true;
  }

  /** That request was answered (or dropped). */
  end(id: string): void {
    const left = (this.pending.get(id) ?? 1) - 1;
    if (left > 0) this.pending.set(id, left);
    else this.pending.delete(id);
  }

  pendingOf(id: string): number {
    return this.pending.get(id) ?? 0;
  }

  /** A socket refused at admission for having too many siblings (counted for stats). */
  refusedSocket(): void {
    this.counters.socketsRefused++;
  }

  cutOff(id: string): void {
    this.cut.add(id);
  }

  isCut(id: string): boolean {
    return this.cut.has(id);
  }

  /** The socket closed or failed: nothing of it is kept. */
  forget(id: string): void {
    this.buckets.delete(id);
    this.pending.delete(id);
    this.cut.delete(id);
  }

  /** Entries held, for tests: every one belongs to an open socket. */
  get size(): number {
    return new Set([...this.buckets.keys(), ...this.pending.keys(), ...this.cut]).size;
  }
}
