import { WIRE_LIMITS, type Conversation, type InboxWelcome } from "../party/protocol/index.ts";
import { backoffDelay, type BackoffOptions } from "./backoff.ts";
import { KaiwaError } from "./errors.ts";
import type { ConversationStore } from "./inbox-conversations.ts";
import type { RoomStreams } from "./inbox-streams.ts";
import type { ConversationPage } from "./inbox-types.ts";
import type { Schedule, Timer } from "./timers.ts";

/** Rows changed this long before the last moment we were live still count as possibly changed (clock skew between actors). */
const CLOCK_SKEW_MS = 60_000;

export type CatchUpOptions = {
  fromStart?: boolean;
  follow?: (room: string, kind: Conversation["kind"] | undefined) => boolean;
  backoff?: BackoffOptions;
};

export type CatchUpDeps = {
  streams: RoomStreams;
  store: ConversationStore;
  schedule: Schedule;
  list: (options: { before: string; limit: number }) => Promise<ConversationPage>;
  error: (error: KaiwaError) => void;
};

/**
 * Decides which rooms the client follows, from which seq, and when a room is behind. The delivery itself
 * is RoomStreams'. Join points: a room listed in the first snapshot (the first welcome, plus the rest of
 * the list paged once) starts at its lastSeq (or 1 with fromStart; or where `positions` said); a room
 * heard of later did not exist then, so it starts at seq 1. After a reconnect, every row the welcome or a
 * page shows is compared with what was delivered; the list is paged only down to rows older than the
 * moment the last socket was live, since older rows cannot hide anything we missed.
 */
export class CatchUp {
  readonly #options: CatchUpOptions;
  readonly #deps: CatchUpDeps;
  /** Sync retries after a retryable error, per room; cancelled with the socket. */
  readonly #retries = new Map<string, { timer: Timer; attempt: number }>();
  /** Every room's join point is known (the whole list was paged once). */
  #snapshotDone = false;
  /** Bumped per socket, so a paging chain of an old socket stops. */
  #socket = 0;
  /** Server clock minus ours (from the last welcome), and the server time at which we were last live. */
  #serverOffset = 0;
  #liveUntil: number | null = null;

  constructor(options: CatchUpOptions, deps: CatchUpDeps) {
    this.#options = options;
    this.#deps = deps;
  }

  /** The welcome's rows are stored; sync whatever is behind and page on if needed. */
  welcomed(welcome: InboxWelcome): void {
    const first = !this.#snapshotDone;
    const cutoff = first || this.#liveUntil === null ? null : this.#liveUntil - CLOCK_SKEW_MS;
    this.#serverOffset = welcome.serverTime - Date.now();
    for (const row of welcome.conversations) this.observe(row, false);
    for (const room of welcome.changedWhileAway) {
      if (this.#follow(room, this.#deps.store.get(room)?.kind, first ? undefined : 0)) this.#deps.streams.catchUp(room);
    }
    const last = welcome.conversations.at(-1);
    if (!welcome.hasMore || !last) this.#snapshotDone = true;
    else void this.#pageOn(this.#socket, last.cursor, cutoff);
  }

  /** The socket is gone (`wasLive`: it had been welcomed). */
  dropped(wasLive: boolean): void {
    if (wasLive) this.#liveUntil = Date.now() + this.#serverOffset;
    this.#socket++;
    for (const retry of this.#retries.values()) retry.timer.cancel();
    this.#retries.clear();
  }

  /**
   * A row from the server (welcome, list page, `live` for a `conversation` frame): stored, and its room caught
   * up if behind. An unknown room joins at the row's lastSeq only while the first snapshot is being taken.
   */
  observe(row: Conversation, live: boolean): void {
    this.#deps.store.put(row);
    const joinAt = live || this.#snapshotDone ? 0 : row.lastSeq;
    if (this.#follow(row.room, row.kind, joinAt)) this.#deps.streams.catchUp(row.room, row.lastSeq);
  }

  /** Live events of a room: a room not known yet is new (joined at 0, so its start is synced). */
  live(room: string): void {
    this.#follow(room, this.#deps.store.get(room)?.kind, 0);
  }

  syncAnswered(room: string): void {
    this.#retries.delete(room);
  }

  /** A retryable sync error (the room was unreachable) is retried with backoff on this socket; others are only reported. */
  syncFailed(room: string, error: KaiwaError): void {
    this.#deps.error(error);
    if (!error.retryable) return;
    const attempt = (this.#retries.get(room)?.attempt ?? 0) + 1;
    const delay = Math.max(error.retryAfterMs ?? 0, backoffDelay(attempt, this.#options.backoff));
    const timer = this.#deps.schedule(() => this.#deps.streams.catchUp(room), delay);
    this.#retries.set(room, { timer, attempt });
  }

  /**
   * Whether `room` is followed; joins it first if unknown: at `joinAt`, or at 0 with `fromStart`.
   * joinAt undefined: not joined yet (wait for its row).
   */
  #follow(room: string, kind: Conversation["kind"] | undefined, joinAt: number | undefined): boolean {
    if (this.#options.follow && !this.#options.follow(room, kind)) return false;
    const streams = this.#deps.streams;
    if (!streams.known(room)) {
      if (joinAt === undefined) return false;
      streams.join(room, this.#options.fromStart ? 0 : joinAt);
    }
    return true;
  }

  /** Pages the list after the welcome's first page: to the end the first time, else down to the cutoff. */
  async #pageOn(socket: number, before: string, cutoff: number | null): Promise<void> {
    try {
      for (let cursor = before; ; ) {
        const page = await this.#deps.list({ before: cursor, limit: WIRE_LIMITS.maxListLimit });
        if (socket !== this.#socket) return;
        const last = page.conversations.at(-1);
        if (!page.hasMore || !last || (cutoff !== null && last.lastTs < cutoff)) break;
        cursor = last.cursor;
      }
      if (cutoff === null) this.#snapshotDone = true;
    } catch (error) {
      if (error instanceof KaiwaError && error.code !== "closed") this.#deps.error(error);
    }
  }
}
