import { nanoid } from "nanoid";
import {
  InboxServerFrame,
  isResent,
  LIMITS,
  ListRequest,
  ReadCommand,
  type Attachment,
  type Conversation,
  type ErrorFrame,
  type InboxClientFrame,
  type InboxWelcome,
  type PresenceState,
  type RoomEvent,
} from "../party/protocol/index.ts";
import { backoffDelay } from "./backoff.ts";
import { checkDm, type DmBody } from "./commands.ts";
import { Emitter } from "./emitter.ts";
import { isErrorCode, KaiwaError } from "./errors.ts";
import { parseFrame } from "./frames.ts";
import { ConversationStore } from "./inbox-conversations.ts";
import { RoomStreams } from "./inbox-streams.ts";
import type { ConversationPage, DmResult, KaiwaInboxEvents, KaiwaInboxOptions, ReadResult } from "./inbox-types.ts";
import { Outbox } from "./outbox.ts";
import { Requests } from "./requests.ts";
import { Session } from "./session.ts";
import type { Status } from "./status.ts";
import { realSchedule, type Schedule, type Timer } from "./timers.ts";

export type { ConversationPage, DmResult, KaiwaInboxEvents, KaiwaInboxOptions, ReadResult, RoomEventOf } from "./inbox-types.ts";

/** Rows changed this long before the last moment we were live still count as possibly changed (clock skew between actors). */
const CLOCK_SKEW_MS = 60_000;

/** The inbox answers a read with a `read` frame only when it names a requestId; ours always do. */
const ReadRequest = ReadCommand.required({ requestId: true });
type ReadFrame = ReturnType<typeof ReadRequest.parse>;
type ListFrame = Extract<InboxClientFrame, { type: "list" }>;

/**
 * A user's inbox on one socket: every DM, the conversation list, unread counts and contacts' presence.
 * DMs go through the same outbox as a room's commands (I3 clientIds, I4 per-session numbers, resent in
 * order on a new socket); every followed room's events reach the app exactly once, in seq order, without
 * gaps (inbox-streams.ts), including those that happened while no socket was open (fetched with `sync`).
 */
export class KaiwaInbox {
  readonly sessionId: string;
  readonly #options: KaiwaInboxOptions;
  readonly #newId: () => string;
  readonly #schedule: Schedule;
  readonly #emitter = new Emitter<KaiwaInboxEvents>();
  readonly #session: Session;
  readonly #outbox: Outbox<DmBody>;
  readonly #waiters = new Map<string, { resolve: (ack: DmResult) => void; reject: (error: KaiwaError) => void }>();
  readonly #reads = new Requests<ReadFrame, ReadResult>();
  readonly #lists = new Requests<ListFrame, ConversationPage>();
  readonly #store = new ConversationStore();
  readonly #streams: RoomStreams;
  /** Sync retries after a retryable error, per room; cancelled with the socket. */
  readonly #syncRetries = new Map<string, { timer: Timer; attempt: number }>();
  /** Every room's join point is known (the whole list was paged once); rooms heard of later are new. */
  #snapshotDone = false;
  /** Bumped per socket, so a list-paging chain of an old socket stops. */
  #catchUp = 0;
  /** Server clock minus ours, from the last welcome; and the server time at which we were last live. */
  #serverOffset = 0;
  #liveUntil: number | null = null;
  #user: InboxWelcome["user"] | null = null;

  constructor(options: KaiwaInboxOptions) {
    this.#options = options;
    this.#newId = options.newId ?? (() => nanoid());
    this.#schedule = options.schedule ?? realSchedule;
    this.sessionId = this.#newId();
    this.#outbox = new Outbox<DmBody>({ maxInFlight: options.maxInFlight ?? LIMITS.maxInFlight, newId: this.#newId });
    this.#streams = new RoomStreams({
      deliver: (room, event) => this.#deliver(room, event),
      requestSync: (room, after) => this.#requestSync(room, after),
      stuck: (room, message) => this.#emitter.emit("error", new KaiwaError("internal", `${room}: ${message}`)),
    });
    for (const [room, seq] of Object.entries(options.positions ?? {})) this.#streams.join(room, seq);
    this.#session = new Session(
      { ...options, room: options.user, party: options.party ?? "inbox", sessionId: this.sessionId, schedule: this.#schedule },
      {
        onMessage: (data) => this.#onMessage(data),
        onDrop: () => this.#onDrop(),
        onStop: (error) => this.#onStop(error),
        onStatus: (change) => this.#emitter.emit("status", change),
        onError: (error) => this.#emitter.emit("error", error),
      },
    );
    if (options.autoConnect !== false) this.#session.startSoon();
  }

  get status(): Status {
    return this.#session.status;
  }

  /** The signed-in user as the inbox knows them (null before the first welcome). */
  get user(): InboxWelcome["user"] | null {
    return this.#user;
  }

  /** Every conversation seen so far, newest activity first. */
  get conversations(): Conversation[] {
    return this.#store.sorted();
  }

  get totalUnread(): number {
    return this.#store.totalUnread;
  }

  unread(room: string): number {
    return this.#store.unread(room);
  }

  /** Contacts' online status by user id (a copy). */
  get contacts(): Map<string, PresenceState> {
    return this.#store.contacts();
  }

  /** The last seq delivered to the app in `room` (or its join point); undefined for a room not followed yet. */
  position(room: string): number | undefined {
    return this.#streams.position(room);
  }

  /** All positions; pass them as `positions` to a later KaiwaInbox to resume without losing or repeating. */
  get positions(): Record<string, number> {
    return this.#streams.positions();
  }

  on<K extends keyof KaiwaInboxEvents>(name: K, handler: (payload: KaiwaInboxEvents[K]) => void): () => void {
    return this.#emitter.on(name, handler);
  }

  off<K extends keyof KaiwaInboxEvents>(name: K, handler: (payload: KaiwaInboxEvents[K]) => void): void {
    this.#emitter.off(name, handler);
  }

  /** A DM to `to`; resolves with the DM room's durable ack (I2), whatever reconnects happen in between. */
  sendDm(to: string, text: string, options: { attachments?: Attachment[] } = {}): Promise<DmResult> {
    if (this.status === "closed") return Promise.reject(new KaiwaError("closed"));
    const checked = checkDm(options.attachments ? { type: "dm", to, text, attachments: options.attachments } : { type: "dm", to, text });
    if (!checked.ok) return Promise.reject(checked.error);
    const command = this.#outbox.enqueue(checked.body);
    return new Promise((resolve, reject) => {
      this.#waiters.set(command.clientId, { resolve, reject });
      this.#pump();
    });
  }

  /** Marks `room` read up to `seq` on every device (I6: forward only, never past lastSeq: read_out_of_range). */
  markRead(room: string, seq: number): Promise<ReadResult> {
    return this.#request(this.#reads, ReadRequest.safeParse({ type: "read", room, seq, requestId: this.#newId() }));
  }

  /** A page of the conversation list, newest activity first; `before` is the last row's cursor. */
  list(options: { before?: string; limit?: number } = {}): Promise<ConversationPage> {
    return this.#request(this.#lists, ListRequest.safeParse({ type: "list", requestId: this.#newId(), ...options }));
  }

  /** Connects now: after auth_failed (with a fresh token getter result), after close(), or to skip a wait. */
  reconnect(): void {
    this.#session.reconnect();
  }

  /** Closes for good: pending DMs and requests reject with `closed`. */
  close(): void {
    this.#session.close("close() called", new KaiwaError("closed"));
  }

  // ---- Lifecycle hooks.

  #onDrop(): void {
    if (this.#session.ready) this.#liveUntil = Date.now() + this.#serverOffset;
    this.#catchUp++;
    this.#streams.dropSocket();
    for (const retry of this.#syncRetries.values()) retry.timer.cancel();
    this.#syncRetries.clear();
  }

  #onStop(error: KaiwaError): void {
    for (const command of this.#outbox.drain()) {
      const waiter = this.#waiters.get(command.clientId);
      this.#waiters.delete(command.clientId);
      waiter?.reject(error);
    }
    this.#reads.rejectAll(error);
    this.#lists.rejectAll(error);
  }

  // ---- Outbound.

  #request<F extends { requestId: string }, A>(
    requests: Requests<F, A>,
    parsed: { success: true; data: F } | { success: false; error: { issues: { message: string }[] } },
  ): Promise<A> {
    if (this.status === "closed") return Promise.reject(new KaiwaError("closed"));
    if (!parsed.success) return Promise.reject(new KaiwaError("bad_frame", parsed.error.issues[0]?.message));
    return new Promise((resolve, reject) => {
      requests.add(parsed.data, resolve, reject);
      this.#pump();
    });
  }

  /** Sends what may go out now: only after the welcome, DMs within the window, each once per socket. */
  #pump(): void {
    const session = this.#session;
    if (!session.ready) return;
    for (let command = this.#outbox.nextToSend(); command; command = this.#outbox.nextToSend()) {
      session.send(JSON.stringify(command satisfies InboxClientFrame));
    }
    for (const frame of this.#reads.takeUnsent()) session.send(JSON.stringify(frame satisfies InboxClientFrame));
    for (const frame of this.#lists.takeUnsent()) session.send(JSON.stringify(frame satisfies InboxClientFrame));
  }

  #requestSync(room: string, after: number): string | null {
    if (!this.#session.ready) return null;
    const frame = { type: "sync", requestId: this.#newId(), room, after, limit: LIMITS.maxHistoryLimit } satisfies InboxClientFrame;
    return this.#session.send(JSON.stringify(frame)) ? frame.requestId : null;
  }

  // ---- Inbound.

  #onMessage(data: unknown): void {
    const parsed = parseFrame(InboxServerFrame, data);
    if (!parsed.ok) return this.#invalid(parsed.what);
    const frame = parsed.frame;
    if (frame.type !== "welcome" && frame.type !== "error" && !this.#session.ready) return this.#invalid(`${frame.type} before the welcome`);
    switch (frame.type) {
      case "welcome":
        return this.#onWelcome(frame);
      case "events":
        this.#follow(frame.room, this.#store.get(frame.room)?.kind, 0);
        return this.#streams.live(frame.room, frame.events);
      case "ack":
        for (const ack of frame.acks) {
          if (!this.#outbox.ack(ack.clientId)) continue; // an ack already handled (e.g. before a resend)
          const waiter = this.#waiters.get(ack.clientId);
          this.#waiters.delete(ack.clientId);
          waiter?.resolve({ room: ack.room, clientId: ack.clientId, seq: ack.seq, ts: ack.ts });
        }
        return this.#pump(); // the window has room again
      case "conversation":
        this.#store.setTotalUnread(frame.totalUnread);
        this.#observe(frame.conversation, "news");
        return this.#emitter.emit("conversation", { conversation: frame.conversation, totalUnread: frame.totalUnread });
      case "list": {
        const page = { conversations: frame.conversations, hasMore: frame.hasMore, totalUnread: frame.totalUnread };
        this.#store.setTotalUnread(frame.totalUnread);
        for (const row of frame.conversations) this.#observe(row, "listed");
        return void this.#lists.answer(frame.requestId, page);
      }
      case "sync":
        this.#syncRetries.delete(frame.room);
        return void this.#streams.answer(frame);
      case "read":
        return void this.#reads.answer(frame.requestId, { room: frame.room, readSeq: frame.readSeq });
      case "presence": {
        const { type: _type, ...state } = frame;
        this.#store.setPresence(state);
        return this.#emitter.emit("presence", state);
      }
      case "error":
        return this.#onError(frame);
    }
  }

  #invalid(what: string): void {
    this.#emitter.emit("error", new KaiwaError("bad_frame", `The inbox sent ${what}; ignored.`));
  }

  #onWelcome(welcome: InboxWelcome): void {
    if (this.#session.ready) return this.#invalid("a second welcome on one socket");
    const first = !this.#snapshotDone;
    const cutoff = this.#liveUntil === null ? null : this.#liveUntil - CLOCK_SKEW_MS;
    this.#user = welcome.user;
    this.#serverOffset = welcome.serverTime - Date.now();
    this.#store.resetContacts(welcome.contacts);
    this.#store.setTotalUnread(welcome.totalUnread);
    for (const row of welcome.conversations) this.#store.put(row);
    // I4: unacked DMs go again, in order, same clientIds and numbers (the inbox keeps no session to lose).
    this.#outbox.resend(0, false);
    this.#reads.resetSent();
    this.#lists.resetSent();
    this.#session.welcomed();
    this.#emitter.emit("welcome", welcome);
    this.#session.opened(`welcomed with ${welcome.conversations.length} conversations${welcome.hasMore ? " (more to page)" : ""}`);
    this.#pump();
    // Catch up: rows of the first snapshot are join points; later, a room never seen before is new to us.
    for (const row of welcome.conversations) this.#observe(row, first ? "listed" : "news");
    for (const room of welcome.changedWhileAway) {
      if (this.#follow(room, this.#store.get(room)?.kind, first ? undefined : 0)) this.#streams.catchUp(room);
    }
    const last = welcome.conversations.at(-1);
    if (!welcome.hasMore || !last) this.#snapshotDone = true;
    else void this.#pageOn(this.#catchUp, last.cursor, first ? null : cutoff);
  }

  /**
   * Pages the list after the welcome's first page. The first time to the end (every room's join point);
   * after a reconnect only down to rows older than the moment we were last live, since older rows cannot
   * hide events we missed (we were receiving them live then).
   */
  async #pageOn(socket: number, before: string, cutoff: number | null): Promise<void> {
    try {
      for (let cursor = before; ; ) {
        const page = await this.list({ before: cursor, limit: LIMITS.maxListLimit });
        if (socket !== this.#catchUp) return;
        const last = page.conversations.at(-1);
        if (!page.hasMore || !last || (cutoff !== null && last.lastTs < cutoff)) break;
        cursor = last.cursor;
      }
      if (cutoff === null) this.#snapshotDone = true;
    } catch (error) {
      if (error instanceof KaiwaError && error.code !== "closed") this.#emitter.emit("error", error);
    }
  }

  /** A row from the server: stored, and its room caught up if it is ahead of what we delivered. */
  #observe(row: Conversation, how: "listed" | "news"): void {
    this.#store.put(row);
    if (this.#follow(row.room, row.kind, how === "listed" ? row.lastSeq : 0)) this.#streams.catchUp(row.room, row.lastSeq);
  }

  /**
   * Whether the app follows `room`; joins it first if unknown: at `joinAt` (a listed row's lastSeq, or 0
   * for a room that appeared after we started), or from seq 1 with `fromStart`. Returns false when the
   * room is not followed or not joined (joinAt undefined: wait for its row).
   */
  #follow(room: string, kind: Conversation["kind"] | undefined, joinAt: number | undefined): boolean {
    if (this.#options.follow && !this.#options.follow(room, kind)) return false;
    if (!this.#streams.known(room)) {
      if (joinAt === undefined) return false;
      this.#streams.join(room, this.#options.fromStart ? 0 : joinAt);
    }
    return true;
  }

  #deliver(room: string, event: RoomEvent): void {
    this.#emitter.emit("event", { room, event });
    if (event.kind === "message") this.#emitter.emit("message", { room, event });
    else if (event.kind === "edit") this.#emitter.emit("edit", { room, event });
    else this.#emitter.emit("delete", { room, event });
  }

  #onError(frame: ErrorFrame): void {
    const error = KaiwaError.fromFrame(frame);
    const ref = frame.ref;
    if (ref !== undefined) {
      const room = this.#streams.failed(ref);
      if (room !== undefined) return this.#syncFailed(room, error);
      if (this.#reads.reject(ref, error) || this.#lists.reject(ref, error)) return;
      const failed = this.#outbox.fail(ref, isErrorCode(error.code) && isResent(error.code));
      if (failed.outcome === "removed") {
        const waiter = this.#waiters.get(ref);
        this.#waiters.delete(ref);
        waiter?.reject(error);
        return this.#pump();
      }
      // Resent codes (storage_failed, internal, room_unavailable): DMs behind this one may already be on
      // the wire, so resending it alone could reorder them; a new socket resends all unacked in order.
      if (failed.outcome === "kept") return this.#session.restart(`${error.code} for ${ref}`, error.retryAfterMs ?? 0);
    }
    this.#session.noteError(error);
    this.#emitter.emit("error", error);
  }

  /** A retryable sync error (the room was unreachable) is retried with backoff on this socket; others are reported. */
  #syncFailed(room: string, error: KaiwaError): void {
    this.#emitter.emit("error", error);
    if (!error.retryable) return;
    const attempt = (this.#syncRetries.get(room)?.attempt ?? 0) + 1;
    const delay = Math.max(error.retryAfterMs ?? 0, backoffDelay(attempt, this.#options.backoff));
    const timer = this.#schedule(() => this.#streams.catchUp(room), delay);
    this.#syncRetries.set(room, { timer, attempt });
  }
}
