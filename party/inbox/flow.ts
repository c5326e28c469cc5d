/**
 * What one device socket may ask of its inbox (PROTOCOL §7), as PROTOCOL R18 bounds it for a room's sockets:
 * - frames per socket: a token bucket over every frame but `ping`, valid or not (`socketFrameBurst`, then
 *   `socketFramesPerSecond`);
 * - requests per socket not yet answered: DMs waiting for their room's write, reads and syncs waiting for
 *   their room (`maxPendingPerSocket`), so no device fills the inbox's queues or its calls in flight;
 * - sockets per inbox (`maxSocketsPerUser`), checked at admission by the shell.
 * Over a bound the device gets `rate_limited` with `retryAfterMs` and its socket is cut off (4029): whatever
 * it sends afterwards is dropped unread, and its queued DMs are dropped, so the client resends everything
 * unacked in order (PROTOCOL I4). Entries live while their socket is open.
 *
 * Pure: the clock comes in.
 */
import { LIMITS } from "../protocol/index.ts";
import { TokenBucket } from "../core/token-bucket.ts";

export class InboxFlow {
  private readonly buckets = new Map<string, TokenBucket>();
  private readonly pending = new Map<string, number>();
  /** Sockets cut off: their frames are dropped until they close. */
  private readonly cut = new Set<string>();
  readonly counters = { framesRefused: 0, pendingRefused: 0, socketsRefused: 0 };

  constructor(private readonly now: () => number = Date.now) {}

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
