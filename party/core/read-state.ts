/**
 * Read positions and exact unread counts of a room's members (PROTOCOL I6). Pure: fed committed events and
 * committed reads in commit order by the shell, so counts describe durable state only (PROTOCOL I2).
 *
 * unread(u) = other people's undeleted messages with seq > read(u). Kept incrementally: a message adds
 * one for every member but its author; a deletion subtracts for members who had not read its target;
 * a read advance subtracts the others' live messages it passes over. For that last step the core keeps
 * `live`: undeleted messages above the slowest member's read position, sorted by seq.
 *
 * mentions(u) (PROTOCOL R27) = those unread messages that mention u, kept the same way; an edit that changes a
 * message's mentions moves the counts of members who have not read it.
 */
import { noticesOwner, ownValue, type MessageEvent, type RoomEvent } from "../protocol/index.ts";

export type ReadPositions = Record<string, number>;
type Live = { seq: number; author: string; mentions: readonly string[] };

export class ReadState {
  private readonly read = new Map<string, number>();
  private readonly unreadCount = new Map<string, number>();
  private readonly mentionCount = new Map<string, number>();
  private live: Live[] = [];

  /**
   * `retained`: the stored (current) records of the log above the slowest reader, in seq order, deleted
   * messages carrying `deletedBy`. Counts are rebuilt from them rather than stored, so a crash between
   * two writes can never leave a count that disagrees with the log.
   */
  constructor(members: readonly string[], positions: ReadPositions, retained: Iterable<RoomEvent>) {
    for (const member of members) {
      this.read.set(member, ownValue(positions, member) ?? 0);
      this.unreadCount.set(member, 0);
      this.mentionCount.set(member, 0);
    }
    for (const event of retained) {
      if (event.kind !== "message" || event.deletedBy !== undefined) continue;
      if (event.seq <= this.slowestRead()) continue;
      const mentions = event.mentions ?? [];
      this.live.push({ seq: event.seq, author: event.author.id, mentions });
      for (const member of members) {
        if (member === event.author.id || event.seq <= this.read.get(member)!) continue;
        this.unreadCount.set(member, this.unreadCount.get(member)! + 1);
        if (mentions.includes(member)) this.mentionCount.set(member, this.mentionCount.get(member)! + 1);
      }
    }
  }

  get members(): string[] {
    return [...this.read.keys()];
  }

  /** A new group member starts as having read everything before joining (`seq`: the add event). */
  addMember(user: string, seq: number): void {
    if (this.read.has(user)) return;
    this.read.set(user, seq);
    this.unreadCount.set(user, 0);
    this.mentionCount.set(user, 0);
  }

  removeMember(user: string): void {
    this.read.delete(user);
    this.unreadCount.delete(user);
    this.mentionCount.delete(user);
  }

  /** Every member's read position (receipts in the welcome). */
  positions(): Record<string, number> {
    return Object.fromEntries(this.read);
  }

  isMember(user: string): boolean {
    return this.read.has(user);
  }

  readSeq(user: string): number {
    return this.read.get(user) ?? 0;
  }

  unread(user: string): number {
    return this.unreadCount.get(user) ?? 0;
  }

  /** PROTOCOL R27: unread messages that mention `user`. */
  mentions(user: string): number {
    return this.mentionCount.get(user) ?? 0;
  }

  /** The lowest read position: events above it are what a rebuild must scan. */
  slowestRead(): number {
    let min = Infinity;
    for (const seq of this.read.values()) min = Math.min(min, seq);
    return min === Infinity ? 0 : min;
  }

  /**
   * A committed event; for a deletion or an edit, `target` is the message's record after it (its author
   * matters, and an edit's re-resolved mentions, PROTOCOL R27).
   */
  applyEvent(event: RoomEvent, target?: MessageEvent): void {
    if (event.kind === "message") {
      const mentions = event.mentions ?? [];
      this.live.push({ seq: event.seq, author: event.author.id, mentions });
      for (const member of this.read.keys()) {
        if (member === event.author.id) continue;
        this.bump(member, +1);
        if (mentions.includes(member)) this.bumpMentions(member, +1);
      }
      return;
    }
    if ((event.kind !== "delete" && event.kind !== "edit") || !target) return;
    const at = this.indexOf(event.target);
    if (at < 0) return; // already read by everyone (or gone): nobody counted it any more
    const entry = this.live[at]!;
    const after = event.kind === "edit" ? (target.mentions ?? []) : [];
    for (const member of this.read.keys()) {
      if (member === entry.author || this.read.get(member)! >= event.target) continue;
      if (event.kind === "delete") this.bump(member, -1);
      this.bumpMentions(member, Number(after.includes(member)) - Number(entry.mentions.includes(member)));
    }
    if (event.kind === "delete") this.live.splice(at, 1);
    else this.live[at] = { ...entry, mentions: after };
  }

  /** A committed read; positions only move forward (PROTOCOL I6). Returns whether anything changed. */
  applyRead(user: string, seq: number): boolean {
    const previous = this.read.get(user);
    if (previous === undefined || seq <= previous) return false;
    let passed = 0;
    let mentioned = 0;
    for (let i = this.firstAbove(previous); i < this.live.length && this.live[i]!.seq <= seq; i++) {
      const entry = this.live[i]!;
      if (entry.author === user) continue;
      passed++;
      if (entry.mentions.includes(user)) mentioned++;
    }
    this.read.set(user, seq);
    this.bump(user, -passed);
    this.bumpMentions(user, -mentioned);
    const slowest = this.slowestRead();
    const keepFrom = this.firstAbove(slowest);
    if (keepFrom > 0) this.live = this.live.slice(keepFrom);
    return true;
  }

  private bump(member: string, by: number): void {
    this.unreadCount.set(member, Math.max(0, this.unreadCount.get(member)! + by));
  }

  private bumpMentions(member: string, by: number): void {
    if (by !== 0) this.mentionCount.set(member, Math.max(0, this.mentionCount.get(member)! + by));
  }

  /** Index of the first live entry with seq > `seq` (binary search; `live` is sorted). */
  private firstAbove(seq: number): number {
    let lo = 0;
    let hi = this.live.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.live[mid]!.seq <= seq) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private indexOf(seq: number): number {
    const at = this.firstAbove(seq - 1);
    return this.live[at]?.seq === seq ? at : -1;
  }
}

/**
 * Members of a room known from its id alone: the two participants of `dm:<a>:<b>`, the one user of
 * `notices:<user>` (PROTOCOL R63). Groups bring their own.
 */
export function membersFromRoomId(roomId: string): string[] {
  const owner = noticesOwner(roomId);
  if (owner) return [owner];
  if (!roomId.startsWith("dm:")) return [];
  const [, a, b, ...rest] = roomId.split(":");
  return a && b && rest.length === 0 && a < b ? [a, b] : [];
}
