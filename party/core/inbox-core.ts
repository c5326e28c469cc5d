/**
 * The pure core of a user's inbox: the conversation list, fed by room notifications. No PartyKit import.
 *
 * Rooms compute read positions and exact unread counts (they own the log); a notification carries the
 * room's snapshot for this user. Snapshots of one room are totally ordered (lastSeq and readSeq only
 * grow), so a late or repeated one is recognised and ignored: apply is idempotent by (room, seq).
 */
import { conversationCursor, type Conversation, type Notification, type RoomEvent } from "../protocol/index.ts";

/** A stored conversation: the room's latest snapshot, plus the highest event seq passed to devices. */
export type Entry = Omit<Conversation, "cursor"> & { delivered: number };

export type Applied = { entry: Entry; changed: boolean; created: boolean; fresh: RoomEvent[] };

export class InboxCore {
  private readonly entries = new Map<string, Entry>();

  constructor(entries: Iterable<Entry> = []) {
    for (const entry of entries) this.entries.set(entry.room, entry);
  }

  get(room: string): Entry | undefined {
    return this.entries.get(room);
  }

  apply(n: Notification): Applied {
    const old = this.entries.get(n.room);
    const delivered = old?.delivered ?? 0;
    const fresh = n.events.filter((event) => event.seq > delivered);
    const newer = !old || n.lastSeq > old.lastSeq || n.readSeq > old.readSeq;
    if (!newer && fresh.length === 0) return { entry: old!, changed: false, created: false, fresh };
    const { events: _events, ...snapshot } = n;
    const base = newer ? snapshot : old!;
    const entry: Entry = { ...base, delivered: Math.max(delivered, ...fresh.map((e) => e.seq)) };
    this.entries.set(n.room, entry);
    return { entry, changed: true, created: !old, fresh };
  }

  totalUnread(): number {
    let total = 0;
    for (const entry of this.entries.values()) total += entry.unread;
    return total;
  }

  /** Peers of the user's DMs: the contacts who see the user's online status. */
  contacts(): string[] {
    const peers: string[] = [];
    for (const entry of this.entries.values()) if (entry.peer) peers.push(entry.peer);
    return peers;
  }

  /** Newest activity first; `before` is a cursor from an earlier page. */
  page(before: string | undefined, limit: number): { conversations: Conversation[]; hasMore: boolean } {
    const rows = [...this.entries.values()].map(toConversation).sort((a, b) => (a.cursor < b.cursor ? 1 : a.cursor > b.cursor ? -1 : 0));
    const start = before === undefined ? 0 : rows.findIndex((row) => row.cursor < before);
    const from = start < 0 ? rows.length : start;
    return { conversations: rows.slice(from, from + limit), hasMore: from + limit < rows.length };
  }
}

export function toConversation(entry: Entry): Conversation {
  const { delivered: _delivered, ...rest } = entry;
  return { ...rest, cursor: conversationCursor(entry.lastTs, entry.room) };
}
