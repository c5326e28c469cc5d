import type { Conversation, PresenceState } from "../party/protocol/index.ts";

/**
 * What the client knows of the user's conversation list and contacts: the latest row per room as the
 * inbox sent it (welcome, list pages, live `conversation` frames) and the server's total. Rows of one
 * room only move forward (lastSeq and readSeq grow), so an older row arriving late (a list page answered
 * before a live update) never overwrites a newer one.
 */
export class ConversationStore {
  readonly #rows = new Map<string, Conversation>();
  readonly #contacts = new Map<string, PresenceState>();
  #totalUnread = 0;

  get totalUnread(): number {
    return this.#totalUnread;
  }

  /** Newest activity first (cursor descending, as the inbox pages them). */
  sorted(): Conversation[] {
    return [...this.#rows.values()].sort((a, b) => (a.cursor < b.cursor ? 1 : a.cursor > b.cursor ? -1 : 0));
  }

  get(room: string): Conversation | undefined {
    return this.#rows.get(room);
  }

  unread(room: string): number {
    return this.#rows.get(room)?.unread ?? 0;
  }

  /** Stores a row unless the one held is newer; returns whether it was taken. */
  put(row: Conversation): boolean {
    const held = this.#rows.get(row.room);
    if (held && (row.lastSeq < held.lastSeq || (row.lastSeq === held.lastSeq && row.readSeq < held.readSeq))) return false;
    this.#rows.set(row.room, row);
    return true;
  }

  setTotalUnread(total: number): void {
    this.#totalUnread = total;
  }

  contacts(): Map<string, PresenceState> {
    return new Map(this.#contacts);
  }

  /** The welcome's list is the truth at connect time: contacts not in it are no longer contacts. */
  resetContacts(all: readonly PresenceState[]): void {
    this.#contacts.clear();
    for (const state of all) this.#contacts.set(state.user, state);
  }

  setPresence(state: PresenceState): void {
    this.#contacts.set(state.user, state);
  }
}
