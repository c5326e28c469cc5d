/**
 * The decisions behind room → inbox notifications (PROTOCOL IB2), on plain data: which members an inbox
 * call is owed to, which of them a timer tick calls (coalesced, a bounded number of calls in flight),
 * which events a call carries, and how long a failed call waits before the next try.
 *
 * No I/O, no clock, no randomness: party/room/notifier.ts reads snapshots and events, delivers, stores
 * the confirmed cursors, sets the timers and draws the random numbers it hands in here.
 */
import { backoffDelay } from "../protocol/backoff.ts";
import { LIMITS, type Notification } from "../protocol/index.ts";

/** What a member's inbox confirmed it stored: the room stores it per member (`n:<user>`). */
export type Cursor = { seq: number; readSeq: number; unread: number };
/** The room's state for one member: a notification without its events. */
export type Snapshot = Omit<Notification, "events">;

/** A DM notifies at once (the next timer tick, give or take). */
export const COALESCE_MS = 2;
/** A group waits a little longer, so a burst of commits becomes one call per member. */
export const GROUP_COALESCE_MS = 100;
/**
 * Inbox calls in flight per room. Cloudflare allows a handful of simultaneous outgoing connections per
 * invocation (6), and a 500-member group fanning out 500 calls at once stalled partykit dev (measured):
 * the rest wait their turn, one call per member either way.
 */
export const MAX_CALLS_IN_FLIGHT = 6;
/** Retry backoff: full jitter up to 100 ms × 2^failures, at most 30 s. */
const RETRY_BASE_MS = 100;
const RETRY_MAX_MS = 30_000;

const NOTHING_CONFIRMED: Cursor = { seq: 0, readSeq: 0, unread: 0 };

/** Whether the member's inbox has not confirmed the room's current state for them. */
export function isBehind(cursor: Cursor | undefined, snap: Snapshot): boolean {
  const c = cursor ?? NOTHING_CONFIRMED;
  return c.seq < snap.lastSeq || c.readSeq !== snap.readSeq || c.unread !== snap.unread;
}

/** The cursor an inbox confirms by answering a call that carried this snapshot. */
export function cursorOf(snap: Snapshot): Cursor {
  return { seq: snap.lastSeq, readSeq: snap.readSeq, unread: snap.unread };
}

/**
 * Events a call carries (from ≤ seq < before): those above what the inbox confirmed, and only the newest
 * `LIMITS.notifyMaxEvents` of them (a device that sees a gap fetches the rest with sync). Undefined: none.
 */
export function eventRange(confirmedSeq: number, lastSeq: number): { from: number; before: number } | undefined {
  const from = Math.max(confirmedSeq + 1, lastSeq - LIMITS.notifyMaxEvents + 1);
  return from <= lastSeq ? { from, before: lastSeq + 1 } : undefined;
}

/** The body of `POST /notify`: one notification, the snapshot with the events' stored JSON spliced in. */
export function notifyBody(snap: Snapshot, eventsJson: readonly string[]): string {
  return `{"notifications":[${JSON.stringify(snap).slice(0, -1)},"events":[${eventsJson.join(",")}]}]}`;
}

/** How long a commit waits before its calls go out. */
export function commitDelay(memberCount: number): number {
  return memberCount > 2 ? GROUP_COALESCE_MS : COALESCE_MS;
}

/** Full-jitter backoff after the `failures`-th failure in a row; `random01` in [0, 1). */
export function retryDelay(failures: number, random01: number): number {
  return backoffDelay(failures, { baseMs: RETRY_BASE_MS, capMs: RETRY_MAX_MS, random: () => random01 });
}

/**
 * Recently committed events (their stored JSON), so live notifications never read storage. Keeps between
 * `kept` and twice that many, the newest.
 */
export class RecentEvents {
  private recent: Array<{ seq: number; json: string }> = [];

  constructor(private readonly kept: number = LIMITS.notifyMaxEvents) {}

  add(events: ReadonlyArray<{ seq: number; json: string }>): void {
    for (const event of events) this.recent.push(event);
    if (this.recent.length > this.kept * 2) this.recent = this.recent.slice(-this.kept);
  }

  /** Every event with from ≤ seq < before, when all of them are still kept; otherwise undefined. */
  pick(from: number, before: number): string[] | undefined {
    const first = this.recent[0]?.seq;
    if (first === undefined || first > from) return undefined;
    const picked = this.recent.filter((e) => e.seq >= from && e.seq < before).map((e) => e.json);
    return picked.length === before - from ? picked : undefined;
  }
}

/**
 * Who is owed a call and who is being called. Members are marked dirty by commits and reads; a tick takes
 * from the dirty set instead of comparing every member's snapshot after every call (that was
 * O(members²) per round in a 500-member group).
 */
export class NotifyCoalescer {
  private readonly cursors = new Map<string, Cursor>();
  private readonly inFlight = new Set<string>();
  private readonly dirty = new Set<string>();
  private timerSet = false;
  /** Failed calls in a row, over all members (reset by any success). */
  private failures = 0;

  constructor(stored: Record<string, Cursor>) {
    for (const [user, cursor] of Object.entries(stored)) this.cursors.set(user, cursor);
  }

  /** What this member's inbox last confirmed, if anything. */
  cursor(user: string): Cursor | undefined {
    return this.cursors.get(user);
  }

  confirmedSeq(user: string): number {
    return this.cursors.get(user)?.seq ?? 0;
  }

  markDirty(user: string): void {
    this.dirty.add(user);
  }

  hasDirty(): boolean {
    return this.dirty.size > 0;
  }

  /** Of these users, those with no call in flight. */
  idle(users: readonly string[]): string[] {
    return users.filter((user) => !this.inFlight.has(user));
  }

  /** True when the caller should set the timer now (none is set); the timer then calls `due`. */
  claimTimer(): boolean {
    if (this.timerSet) return false;
    this.timerSet = true;
    return true;
  }

  /**
   * The timer fired: the dirty members to call now, each marked in flight. Stops at MAX_CALLS_IN_FLIGHT
   * calls in flight; members with a call in flight stay dirty; dirty members who turn out not to be
   * behind are dropped.
   */
  due(behind: (user: string) => boolean): string[] {
    this.timerSet = false;
    const calls: string[] = [];
    for (const user of this.dirty) {
      if (this.inFlight.size >= MAX_CALLS_IN_FLIGHT) break;
      if (this.inFlight.has(user)) continue;
      this.dirty.delete(user);
      if (!behind(user)) continue;
      this.inFlight.add(user);
      calls.push(user);
    }
    return calls;
  }

  /** A call to this member starts (already marked when `due` picked it). */
  begin(user: string): void {
    this.inFlight.add(user);
  }

  /** The member's inbox confirmed this state. */
  confirm(user: string, cursor: Cursor): void {
    this.cursors.set(user, cursor);
  }

  /**
   * A call succeeded and is over; `stillBehind`: the room moved on meanwhile. Returns whether any member is
   * dirty (the caller kicks the timer).
   */
  settled(user: string, stillBehind: boolean): boolean {
    this.failures = 0;
    this.inFlight.delete(user);
    if (stillBehind) this.dirty.add(user);
    return this.dirty.size > 0;
  }

  /** A call failed: the member stays owed; the caller retries after `delayMs`. */
  failed(user: string, random01: number): { attempt: number; delayMs: number } {
    this.failures++;
    this.inFlight.delete(user);
    this.dirty.add(user);
    return { attempt: this.failures, delayMs: retryDelay(this.failures, random01) };
  }
}
