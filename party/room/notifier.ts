/**
 * Room → inbox notifications: after a commit, every member's inbox hears of the new events and of the
 * member's read position and unread count, coalesced (one call per inbox carries all that is pending)
 * and never on the ack path (I2 holds: only committed state is sent; a slow inbox delays nobody).
 *
 * Exactly once at the inbox: the room remembers, per member, the state the inbox confirmed (`Cursor`); a
 * member is pending while the room is ahead of that. The inbox applies notifications idempotently by
 * (room, seq), so a retry after a lost reply changes nothing. Durability across crashes: the room's alarm
 * is armed in the same write as the events (see room.ts), and a woken room redelivers what is pending.
 */
import { LIMITS, type Notification } from "../protocol/index.ts";

export type Cursor = { seq: number; readSeq: number; unread: number };
export type Snapshot = Omit<Notification, "events">;

export type NotifierPort = {
  members(): readonly string[];
  /** Whether the room still owes this user notifications (a member, or a removed one's last one). */
  isRecipient(user: string): boolean;
  snapshot(user: string): Snapshot;
  /** Committed event records (JSON) with from ≤ seq < before, in order. */
  readEventsJson(from: number, before: number): Promise<string[]>;
  deliver(user: string, body: string): Promise<void>;
  saveCursor(user: string, cursor: Cursor): void;
  schedule(fn: () => void, ms: number): void;
  random(): number;
  /** Test switch (KAIWA_TEST_HOLD_NOTIFY): deliver nothing, as if the actor died right after the write. */
  held: boolean;
};

const COALESCE_MS = 2;
/**
 * Inbox calls in flight per room. Cloudflare allows a handful of simultaneous outgoing connections per
 * invocation (6), and a 500-member group fanning out 500 calls at once stalled partykit dev (measured):
 * the rest wait their turn, one call per member either way.
 */
const MAX_CALLS_IN_FLIGHT = 6;
const GROUP_COALESCE_MS = 100;
const RECENT_KEPT = LIMITS.notifyMaxEvents;

export class RoomNotifier {
  private readonly cursors = new Map<string, Cursor>();
  private readonly inFlight = new Set<string>();
  /**
   * Members that may be behind, marked by commits and reads: the send loop takes from here instead of
   * comparing every member's snapshot after every call (that was O(members²) per round in a 500-member group).
   */
  private readonly dirty = new Set<string>();
  private timerSet = false;
  private failures = 0;
  /** Recently committed events, so live notifications never read storage. */
  private recent: Array<{ seq: number; json: string }> = [];
  readonly counters = { calls: 0, failures: 0, events: 0 };

  constructor(private readonly port: NotifierPort, stored: Record<string, Cursor>) {
    for (const [user, cursor] of Object.entries(stored)) this.cursors.set(user, cursor);
    for (const user of this.pending()) this.dirty.add(user);
  }

  /** This member's state changed (their read position, their membership). */
  markDirty(user: string): void {
    this.dirty.add(user);
    this.kick();
  }

  /** Members whose inbox has not confirmed the room's current state for them. */
  pending(): string[] {
    return this.port.members().filter((user) => this.isBehind(user));
  }

  committed(events: Array<{ seq: number; json: string }>): void {
    for (const event of events) this.recent.push(event);
    if (this.recent.length > RECENT_KEPT * 2) this.recent = this.recent.slice(-RECENT_KEPT);
    if (events.length > 0) for (const user of this.port.members()) this.dirty.add(user);
    // A DM notifies at once; a group waits a little longer so a burst becomes one call per member.
    this.kick(this.port.members().length > 2 ? GROUP_COALESCE_MS : COALESCE_MS);
  }

  kick(delayMs = COALESCE_MS): void {
    if (this.timerSet || this.port.held) return;
    this.timerSet = true;
    this.port.schedule(() => {
      this.timerSet = false;
      for (const user of this.dirty) {
        if (this.inFlight.size >= MAX_CALLS_IN_FLIGHT) break;
        if (this.inFlight.has(user)) continue;
        this.dirty.delete(user);
        if (this.isBehind(user)) void this.send(user);
      }
    }, delayMs);
  }

  /** Deliver everything pending now; resolves when every attempt has finished (for alarms). */
  async drain(): Promise<boolean> {
    if (this.port.held) return false;
    const waiting = this.pending().filter((user) => !this.inFlight.has(user));
    const worker = async () => {
      for (let user = waiting.shift(); user !== undefined; user = waiting.shift()) await this.send(user);
    };
    await Promise.all(Array.from({ length: MAX_CALLS_IN_FLIGHT }, worker));
    return this.pending().length === 0;
  }

  private isBehind(user: string): boolean {
    // A removed member whose last notification went out is owed nothing more, however it got marked.
    if (!this.port.isRecipient(user)) return false;
    const snap = this.port.snapshot(user);
    const cursor = this.cursors.get(user) ?? { seq: 0, readSeq: 0, unread: 0 };
    return cursor.seq < snap.lastSeq || cursor.readSeq !== snap.readSeq || cursor.unread !== snap.unread;
  }

  private async send(user: string): Promise<void> {
    this.inFlight.add(user);
    try {
      const snap = this.port.snapshot(user);
      const confirmed = this.cursors.get(user)?.seq ?? 0;
      // The tail only: a device that sees a gap fetches the rest from the room (sync).
      const from = Math.max(confirmed + 1, snap.lastSeq - LIMITS.notifyMaxEvents + 1);
      const events = from <= snap.lastSeq ? await this.eventsJson(from, snap.lastSeq + 1) : [];
      const body = `{"notifications":[${JSON.stringify(snap).slice(0, -1)},"events":[${events.join(",")}]}]}`;
      this.counters.calls++;
      await this.port.deliver(user, body);
      const cursor = { seq: snap.lastSeq, readSeq: snap.readSeq, unread: snap.unread };
      this.cursors.set(user, cursor);
      this.port.saveCursor(user, cursor);
      this.counters.events += events.length;
      this.failures = 0;
    } catch (error) {
      this.counters.failures++;
      this.failures++;
      console.error(`notifying inbox ${user} failed (attempt ${this.failures}); retrying`, error);
      // Full-jitter backoff, capped: a restarting inbox is retried until it answers.
      const cap = Math.min(30_000, 100 * 2 ** Math.min(this.failures, 9));
      this.inFlight.delete(user);
      this.dirty.add(user);
      return this.kick(Math.round(this.port.random() * cap));
    }
    this.inFlight.delete(user);
    if (this.isBehind(user)) this.dirty.add(user);
    if (this.dirty.size > 0) this.kick();
  }

  private async eventsJson(from: number, before: number): Promise<string[]> {
    const first = this.recent[0]?.seq;
    if (first !== undefined && first <= from) {
      const picked = this.recent.filter((e) => e.seq >= from && e.seq < before).map((e) => e.json);
      if (picked.length === before - from) return picked;
    }
    return this.port.readEventsJson(from, before);
  }
}
