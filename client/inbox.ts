import { nanoid } from "nanoid";
import * as z from "zod/mini";
import {
  InboxServerFrame,
  ListRequest,
  ReadCommand,
  WIRE_LIMITS,
  type AttachmentRef,
  type Conversation,
  type ErrorFrame,
  type InboxClientFrame,
  type InboxWelcome,
  type PresenceState,
  type RoomEvent,
} from "../party/protocol/index.ts";
import { checkDm, type DmBody } from "./commands.ts";
import { Emitter } from "./emitter.ts";
import { KaiwaError } from "./errors.ts";
import { parseFrame } from "./frames.ts";
import { CommandQueue } from "./command-queue.ts";
import { CatchUp } from "./inbox-catchup.ts";
import { ConversationStore } from "./inbox-conversations.ts";
import { RoomStreams } from "./inbox-streams.ts";
import type { ConversationPage, DmResult, KaiwaInboxEvents, KaiwaInboxOptions, ReadResult } from "./inbox-types.ts";
import { Requests } from "./requests.ts";
import { Session } from "./session.ts";
import type { Status } from "./status.ts";
import { realSchedule } from "./timers.ts";

export type { ConversationPage, DmResult, KaiwaInboxEvents, KaiwaInboxOptions, ReadResult, RoomEventOf } from "./inbox-types.ts";

/** The inbox answers a read with a `read` frame only when it names a requestId; ours always do (a spread
 * shape, not `z.extend`: see party/protocol/inbox-schema.ts). */
const ReadRequest = z.object({ ...ReadCommand.shape, requestId: ReadCommand.shape.requestId.def.innerType });
type ReadFrame = z.infer<typeof ReadRequest>;
type ListFrame = Extract<InboxClientFrame, { type: "list" }>;

/**
 * A user's inbox on one socket: every DM, the conversation list, unread counts and contacts' presence.
 * DMs go through the same outbox as a room's commands (PROTOCOL I3 clientIds, PROTOCOL I4 per-session numbers, resent in
 * order on a new socket); every followed room's events reach the app exactly once, in seq order, without
 * gaps (inbox-streams.ts), including those that happened while no socket was open (fetched with `sync`).
 */
export class KaiwaInbox {
  readonly sessionId: string;
  readonly #newId: () => string;
  readonly #emitter = new Emitter<KaiwaInboxEvents>();
  readonly #session: Session;
  readonly #dms: CommandQueue<DmBody, DmResult>;
  readonly #reads = new Requests<ReadFrame, ReadResult>();
  readonly #lists = new Requests<ListFrame, ConversationPage>();
  readonly #store = new ConversationStore();
  readonly #streams: RoomStreams;
  readonly #catchUp: CatchUp;
  #user: InboxWelcome["user"] | null = null;

  constructor(options: KaiwaInboxOptions) {
    this.#newId = options.newId ?? (() => nanoid());
    const schedule = options.schedule ?? realSchedule;
    this.sessionId = this.#newId();
    this.#dms = new CommandQueue({ maxInFlight: options.maxInFlight ?? WIRE_LIMITS.maxInFlight, newId: this.#newId });
    this.#streams = new RoomStreams({
      deliver: (room, event) => this.#deliver(room, event),
      requestSync: (room, after) => this.#requestSync(room, after),
      stuck: (room, message) => this.#emitter.emit("error", new KaiwaError("internal", `${room}: ${message}`)),
    });
    for (const [room, seq] of Object.entries(options.positions ?? {})) this.#streams.join(room, seq);
    this.#catchUp = new CatchUp(options, {
      streams: this.#streams,
      store: this.#store,
      schedule,
      list: (page) => this.list(page),
      error: (error) => this.#emitter.emit("error", error),
    });
    this.#session = new Session(
      { ...options, room: options.user, party: options.party ?? "inbox", sessionId: this.sessionId, schedule },
      {
        onMessage: (data) => this.#onMessage(data),
        onDrop: (wasLive) => {
          this.#catchUp.dropped(wasLive);
          this.#streams.dropSocket();
        },
        onStop: (error) => {
          this.#dms.rejectAll(error);
          this.#reads.rejectAll(error);
          this.#lists.rejectAll(error);
        },
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

  /** A DM to `to`; resolves with the DM room's durable ack (PROTOCOL I2), whatever reconnects happen in between. */
  sendDm(to: string, text: string, options: { attachments?: AttachmentRef[] } = {}): Promise<DmResult> {
    if (this.status === "closed") return Promise.reject(new KaiwaError("closed"));
    const checked = checkDm(options.attachments ? { type: "dm", to, text, attachments: options.attachments } : { type: "dm", to, text });
    if (!checked.ok) return Promise.reject(checked.error);
    const sent = this.#dms.add(checked.body);
    this.#pump();
    return sent;
  }

  /** Marks `room` read up to `seq` on every device (PROTOCOL I6: forward only, never past lastSeq: read_out_of_range). */
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
    for (let command = this.#dms.nextToSend(); command; command = this.#dms.nextToSend()) {
      session.send(JSON.stringify(command satisfies InboxClientFrame));
    }
    for (const frame of this.#reads.takeUnsent()) session.send(JSON.stringify(frame satisfies InboxClientFrame));
    for (const frame of this.#lists.takeUnsent()) session.send(JSON.stringify(frame satisfies InboxClientFrame));
  }

  #requestSync(room: string, after: number): string | null {
    if (!this.#session.ready) return null;
    const frame = { type: "sync", requestId: this.#newId(), room, after, limit: WIRE_LIMITS.maxHistoryLimit } satisfies InboxClientFrame;
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
        this.#catchUp.live(frame.room);
        return this.#streams.live(frame.room, frame.events);
      case "ack":
        for (const ack of frame.acks) this.#dms.ack(ack.clientId, { room: ack.room, clientId: ack.clientId, seq: ack.seq, ts: ack.ts });
        return this.#pump(); // the window has room again
      case "conversation":
        this.#store.setTotalUnread(frame.totalUnread);
        this.#catchUp.observe(frame.conversation, true);
        return this.#emitter.emit("conversation", { conversation: frame.conversation, totalUnread: frame.totalUnread });
      case "list": {
        const page = { conversations: frame.conversations, hasMore: frame.hasMore, totalUnread: frame.totalUnread };
        this.#store.setTotalUnread(frame.totalUnread);
        for (const row of frame.conversations) this.#catchUp.observe(row, false);
        return void this.#lists.answer(frame.requestId, page);
      }
      case "sync":
        this.#catchUp.syncAnswered(frame.room);
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
    this.#user = welcome.user;
    this.#store.resetContacts(welcome.contacts);
    this.#store.setTotalUnread(welcome.totalUnread);
    for (const row of welcome.conversations) this.#store.put(row);
    // PROTOCOL I4: unacked DMs go again, in order, same clientIds and numbers (the inbox keeps no session to lose).
    this.#dms.resend(0, false);
    this.#reads.resetSent();
    this.#lists.resetSent();
    this.#session.welcomed();
    this.#emitter.emit("welcome", welcome);
    this.#session.opened(`welcomed with ${welcome.conversations.length} conversations${welcome.hasMore ? " (more to page)" : ""}`);
    this.#pump();
    this.#catchUp.welcomed(welcome);
  }

  #deliver(room: string, event: RoomEvent): void {
    this.#emitter.emit("event", { room, event });
    if (event.kind === "message") this.#emitter.emit("message", { room, event });
    else if (event.kind === "edit") this.#emitter.emit("edit", { room, event });
    else if (event.kind === "delete") this.#emitter.emit("delete", { room, event });
    else if (event.kind === "group" || event.kind === "member") this.#emitter.emit("membership", { room, event });
    else if (event.kind === "announcement") this.#emitter.emit("announcement", { room, event });
    else if (event.kind === "moderation") this.#emitter.emit("moderation", { room, event });
  }

  #onError(frame: ErrorFrame): void {
    const error = KaiwaError.fromFrame(frame);
    const ref = frame.ref;
    const syncRoom = ref === undefined ? undefined : this.#streams.failed(ref);
    if (syncRoom !== undefined) return this.#catchUp.syncFailed(syncRoom, error);
    if (ref !== undefined && (this.#reads.reject(ref, error) || this.#lists.reject(ref, error))) return;
    // PROTOCOL IB1: a resend code comes with a 4013 close; the next socket resends every unacked DM in order.
    const outcome = this.#dms.fail(error);
    if (outcome === "removed") return this.#pump();
    if (outcome === "kept") return this.#session.restart(`${error.code} for ${ref}`, error.retryAfterMs ?? 0);
    // Over one of the inbox's bounds (PROTOCOL §7: frames, pending requests, devices): the socket is being
    // closed; come back no sooner than it asked and resend every unacked DM in order.
    if (frame.code === "rate_limited") return this.#session.restart(error.code, error.retryAfterMs ?? 0);
    this.#session.noteError(error);
    this.#emitter.emit("error", error);
  }
}
