/**
 * Receipts, presence and typing of one room, batched (PROTOCOL R15): changes collected over a window go out
 * as at most one frame of each kind per window, the same string to every socket. A naive relay sends one
 * frame per change to every member, O(members²) when everyone reads or types; here the frames per second
 * are bounded by 3 / window per socket whatever the churn (PROTOCOL R15). Nothing here is stored: read
 * positions are stored by the room's group commit, presence and typing never are.
 *
 * Pure: time, timers and sending come in through the port. No interval: a timer runs only while there is
 * something to send or a typing entry to expire, so an idle room can sleep.
 *
 * Bounded (PROTOCOL §7): reads and deliveries hold one entry per member who moved in the window, presence
 * changes one per user whose first socket opened or last closed in it, typing at most `typingMaxUsers`.
 */
import { LIMITS } from "../protocol/limits.ts";
import { EarliestTimer } from "./earliest-timer.ts";

export type SignalsPort = {
  now(): number;
  schedule(fn: () => void, ms: number): void;
  broadcast(frame: string): void;
  /** Open sockets, for the occupancy count. */
  connections(): number;
  /** Whether the user holds a socket now. */
  isPresent(user: string): boolean;
  /** How many users are present, and who (to name everyone again after an audience spell). */
  presentCount(): number;
  presentUsers(): string[];
  /** Whether the room names presence whatever its size (a group: its members bound the lists). */
  alwaysNames(): boolean;
  /**
   * Whether part of the audience is somewhere the room cannot name it (a sharded live room's relays,
   * PROTOCOL R52): then frames carry the count alone, whatever the size. Absent: never.
   */
  countOnly?(): boolean;
};

export class RoomSignals {
  private readonly reads = new Map<string, number>();
  private readonly delivered = new Map<string, number>();
  /** Users whose presence changed in this window; the frame says where each one ends up. */
  private readonly changed = new Set<string>();
  private readonly typingUntil = new Map<string, number>();
  private sentTyping = "[]";
  private lastFlush = -Infinity;
  /** Too many present users to name (open rooms above `listMaxUsers`): frames carry the count alone. */
  private audience = false;
  private lastCountAt = -Infinity;
  /** The count an audience frame last carried; a window whose joins and leaves cancel out sends none. */
  private sentCount = -1;
  /** The occupancy changed without a user here joining or leaving (a relay's viewer count, PROTOCOL R52). */
  private countChanged = false;
  private readonly timer: EarliestTimer;
  readonly counters = { frames: 0, flushes: 0, typingRefused: 0 };

  constructor(
    private readonly port: SignalsPort,
    private readonly windowMs: number,
    private readonly typingTtlMs: number,
    private readonly listMaxUsers = Infinity,
    private readonly audienceCountMs = 0,
    /** Users shown typing at once (PROTOCOL §7): input can name as many typers as there are users. */
    private readonly typingMaxUsers: number = LIMITS.maxTypingUsers,
  ) {
    this.timer = new EarliestTimer(port, () => this.flush());
  }

  read(user: string, seq: number): void {
    this.reads.set(user, Math.max(seq, this.reads.get(user) ?? 0));
    this.arm();
  }

  deliveredTo(user: string, seq: number): void {
    this.delivered.set(user, Math.max(seq, this.delivered.get(user) ?? 0));
    this.arm();
  }

  /**
   * A user's first socket opened. The frame reports each changed user's state at flush time, never a
   * cancelled pair: a socket welcomed mid-window saw the state of its own moment, which may differ.
   */
  join(user: string): void {
    this.changed.add(user);
    this.arm();
  }

  /** A user's last socket closed; they stop typing too. */
  leave(user: string): void {
    this.changed.add(user);
    this.typingUntil.delete(user);
    this.arm();
  }

  /**
   * A member typed. At `typingMaxUsers` typers a new one is not shown (expired entries go first): the frame
   * every socket gets stays bounded, and an indicator naming a hundred people says no more than "many".
   */
  typing(user: string): void {
    const now = this.port.now();
    if (!this.typingUntil.has(user) && this.typingUntil.size >= this.typingMaxUsers) {
      for (const [typer, until] of this.typingUntil) if (until <= now) this.typingUntil.delete(typer);
      if (this.typingUntil.size >= this.typingMaxUsers) {
        this.counters.typingRefused++;
        return;
      }
    }
    this.typingUntil.set(user, now + this.typingTtlMs);
    this.arm();
  }

  /** The audience held elsewhere (a relay's viewers) grew or shrank: the count goes out as presence does. */
  audienceChanged(): void {
    this.countChanged = true;
    this.arm();
  }

  /**
   * Frames that show the room as it is now to a socket that just joined and saw no change (a relay, which
   * passes them to its viewers as they join, PROTOCOL R52): the count, and who is typing.
   */
  snapshot(): string[] {
    const count = { type: "presence", joined: [], left: [], count: this.port.connections(), listed: false };
    return [JSON.stringify(count), `{"type":"typing","users":${JSON.stringify(this.typingNow())}}`];
  }

  stopTyping(user: string): void {
    if (this.typingUntil.delete(user)) this.arm();
  }

  /** Members typing now, for the welcome. */
  typingNow(): string[] {
    const now = this.port.now();
    return [...this.typingUntil].filter(([, until]) => until > now).map(([user]) => user).sort();
  }

  private arm(delay?: number): void {
    const now = this.port.now();
    this.timer.armAt(now + (delay ?? Math.max(0, this.lastFlush + this.windowMs - now)));
  }

  private flush(): void {
    const now = this.port.now();
    this.lastFlush = now;
    this.counters.flushes++;
    if (this.reads.size > 0 || this.delivered.size > 0) {
      const frame: Record<string, unknown> = { type: "receipts", reads: Object.fromEntries(this.reads) };
      if (this.delivered.size > 0) frame.delivered = Object.fromEntries(this.delivered);
      this.send(JSON.stringify(frame));
      this.reads.clear();
      this.delivered.clear();
    }
    if (this.changed.size > 0 || this.countChanged) this.flushPresence(now);
    for (const [user, until] of this.typingUntil) if (until <= now) this.typingUntil.delete(user);
    const typing = JSON.stringify(this.typingNow());
    if (typing !== this.sentTyping) {
      this.sentTyping = typing;
      this.send(`{"type":"typing","users":${typing}}`);
    }
    // Expiry needs a wake-up only while someone is typing.
    let next = Infinity;
    for (const until of this.typingUntil.values()) next = Math.min(next, until);
    if (next !== Infinity) this.arm(Math.max(this.windowMs, next - now));
  }

  /**
   * Names who came and went, or, for an audience, only the count (clients then forget the names). Names
   * come back at 80% of the limit or below, so a room hovering at it does not flip every window, and the
   * first named frame after an audience spell names everyone present (at most that many), since clients
   * dropped their names. An audience's count goes out at most once per `audienceCountMs`: the changes wait
   * (in `changed`) for the next one.
   */
  private flushPresence(now: number): void {
    const wasAudience = this.audience;
    const limit = wasAudience ? Math.floor(this.listMaxUsers * 0.8) : this.listMaxUsers;
    const audience = !this.port.alwaysNames() && (this.port.countOnly?.() === true || this.port.presentCount() > limit);
    const countDue = this.lastCountAt + this.audienceCountMs;
    if (audience && wasAudience && now < countDue) return this.arm(countDue - now);
    this.audience = audience;
    this.countChanged = false;
    const count = this.port.connections();
    if (audience) {
      this.changed.clear();
      // An audience frame carries nothing but the count: when that is what the last one said, none goes out.
      if (wasAudience && count === this.sentCount) return;
      this.lastCountAt = now;
      this.sentCount = count;
      return this.send(JSON.stringify({ type: "presence", joined: [], left: [], count, listed: false }));
    }
    if (wasAudience) {
      this.send(JSON.stringify({ type: "presence", joined: this.port.presentUsers(), left: [], count }));
    } else {
      const joined: string[] = [];
      const left: string[] = [];
      for (const user of this.changed) (this.port.isPresent(user) ? joined : left).push(user);
      this.send(JSON.stringify({ type: "presence", joined, left, count }));
    }
    this.changed.clear();
  }

  private send(frame: string): void {
    this.counters.frames++;
    this.port.broadcast(frame);
  }
}
