/**
 * Room → inbox notifications: after a commit, every member's inbox hears of the new events and of the
 * member's read position and unread count, coalesced (one call per inbox carries all that is pending)
 * and never on the ack path (PROTOCOL I2 holds: only committed state is sent; a slow inbox delays nobody).
 *
 * Exactly once at the inbox: the room remembers, per member, the state the inbox confirmed (`Cursor`); a
 * member is pending while the room is ahead of that. The inbox applies notifications idempotently by
 * (room, seq), so a retry after a lost reply changes nothing. Durability across crashes: the room's alarm
 * is armed in the same write as the events (see room.ts), and a woken room redelivers what is pending.
 *
 * This file does the I/O (snapshots, stored events, calls, cursors, timers); who is owed a call, which
 * calls a tick makes, what a call carries and how long a retry waits are decided in
 * party/core/notify-coalescing.ts.
 */
import {
  COALESCE_MS,
  MAX_CALLS_IN_FLIGHT,
  NotifyCoalescer,
  RecentEvents,
  commitDelay,
  cursorOf,
  eventRange,
  isBehind,
  notifyBody,
  type Cursor,
  type Snapshot,
} from "../core/notify-coalescing.ts";

export type { Cursor, Snapshot } from "../core/notify-coalescing.ts";

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

export class RoomNotifier {
  private readonly state: NotifyCoalescer;
  /** Recently committed events, so live notifications never read storage. */
  private readonly recent = new RecentEvents();
  readonly counters = { calls: 0, failures: 0, events: 0 };

  constructor(private readonly port: NotifierPort, stored: Record<string, Cursor>) {
    this.state = new NotifyCoalescer(stored);
    for (const user of this.pending()) this.state.markDirty(user);
  }

  /** This member's state changed (their read position, their membership). */
  markDirty(user: string): void {
    this.state.markDirty(user);
    this.kick();
  }

  /** Members whose inbox has not confirmed the room's current state for them. */
  pending(): string[] {
    return this.port.members().filter((user) => this.isBehind(user));
  }

  committed(events: Array<{ seq: number; json: string }>): void {
    this.recent.add(events);
    if (events.length > 0) for (const user of this.port.members()) this.state.markDirty(user);
    this.kick(commitDelay(this.port.members().length));
  }

  kick(delayMs = COALESCE_MS): void {
    if (this.port.held || !this.state.claimTimer()) return;
    this.port.schedule(() => {
      for (const user of this.state.due((u) => this.isBehind(u))) void this.send(user);
    }, delayMs);
  }

  /** Deliver everything pending now; resolves when every attempt has finished (for alarms). */
  async drain(): Promise<boolean> {
    if (this.port.held) return false;
    const waiting = this.state.idle(this.pending());
    const worker = async () => {
      for (let user = waiting.shift(); user !== undefined; user = waiting.shift()) await this.send(user);
    };
    await Promise.all(Array.from({ length: MAX_CALLS_IN_FLIGHT }, worker));
    return this.pending().length === 0;
  }

  private isBehind(user: string): boolean {
    // A removed member whose last notification went out is owed nothing more, however it got marked.
    if (!this.port.isRecipient(user)) return false;
    return isBehind(this.state.cursor(user), this.port.snapshot(user));
  }

  private async send(user: string): Promise<void> {
    this.state.begin(user);
    try {
      const snap = this.port.snapshot(user);
      const range = eventRange(this.state.confirmedSeq(user), snap.lastSeq);
      const events = range ? await this.eventsJson(range.from, range.before) : [];
      const body = notifyBody(snap, events);
      this.counters.calls++;
      await this.port.deliver(user, body);
      const cursor = cursorOf(snap);
      this.state.confirm(user, cursor);
      this.port.saveCursor(user, cursor);
      this.counters.events += events.length;
    } catch (error) {
      this.counters.failures++;
      // Full-jitter backoff, capped: a restarting inbox is retried until it answers.
      const { attempt, delayMs } = this.state.failed(user, this.port.random());
      console.error(`notifying inbox ${user} failed (attempt ${attempt}); retrying`, error);
      return this.kick(delayMs);
    }
    if (this.state.settled(user, this.isBehind(user))) this.kick();
  }

  private async eventsJson(from: number, before: number): Promise<string[]> {
    return this.recent.pick(from, before) ?? this.port.readEventsJson(from, before);
  }
}
