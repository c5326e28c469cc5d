import { nanoid } from "nanoid";
import {
  HistoryRequest,
  ThreadRequest,
  WIRE_LIMITS,
  type Pin,
  type Quote,
  type AckFrame,
  type AttachmentRef,
  type ClientFrame,
  type ErrorFrame,
  type Role,
  type RoomEvent,
  type WelcomeFrame,
} from "../party/protocol/index.ts";
import { checkCommand } from "./commands.ts";
import { Emitter } from "./emitter.ts";
import { packCommands } from "./frame-packer.ts";
import { KaiwaError } from "./errors.ts";
import { parseServerFrame } from "./frames.ts";
import { CommandQueue } from "./command-queue.ts";
import type { CommandBody } from "./outbox.ts";
import { HistoryRequests, ThreadRequests, type HistoryPage, type ThreadPage } from "./requests.ts";
import { RoomFeatures, type Reactions } from "./room-features.ts";
import { sequence, type Position } from "./sequencer.ts";
import { Session } from "./session.ts";
import type { Status } from "./status.ts";
import { realSchedule } from "./timers.ts";
import { RoomMembers } from "./room-members.ts";
import { ClientAwareness, type PresenceState } from "./room-awareness.ts";
import type { KaiwaRoomEvents, KaiwaRoomOptions, ResetReason, SendResult } from "./types.ts";

export type { KaiwaRoomEvents, KaiwaRoomOptions, ResetInfo, ResetReason, SendResult } from "./types.ts";

const RESET_PAGE_LIMIT = 50;
/** The client sends at most one typing signal per this many ms (the room shows it for ~5 s). */
const TYPING_THROTTLE_MS = 2000;

export class KaiwaRoom {
  readonly sessionId: string;
  readonly #newId: () => string;
  readonly #emitter = new Emitter<KaiwaRoomEvents>();
  readonly #session: Session;
  readonly #commands: CommandQueue<CommandBody, SendResult>;
  readonly #history = new HistoryRequests();
  readonly #threads = new ThreadRequests();
  /** Reactions, pins and quotes as this user sees them (PROTOCOL R20, R22, R24). */
  readonly #features = new RoomFeatures();
  #position: Position | null;
  /** While a reset's history page is fetched, events wait here so the app sees reset before them. */
  #gate: { reason: ResetReason; buffered: RoomEvent[][] } | null = null;
  /** Members, roles, receipts, presence and typing (groups and DMs). */
  readonly #members = new RoomMembers();
  /** Presence over y-protocols awareness (PROTOCOL R72-R75): `presence`, `setState`, typing. */
  readonly #awareness: ClientAwareness;
  #lastTypingAt = -Infinity;
  #pumpQueued = false;
  /** The room's welcome listed `batch` (PROTOCOL R17); an older room gets one frame per command. */
  #batchAccepted = false;
  /** Read positions asked for and not yet confirmed: (re)sent after every welcome, answered by a receipt. */
  readonly #reads = new Map<string, { seq: number; resolve: (readSeq: number) => void; reject: (error: KaiwaError) => void; sent: boolean }>();
  /** What later calls reject with once closed: `closed`, or the error a close code names (4030 → `banned`). */
  #closedError = new KaiwaError("closed");
  readonly #options: KaiwaRoomOptions;
  /** A live stream (`live:<id>`): its audience neither publishes awareness nor shows as typing. */
  readonly #live: boolean;
  /** The last welcome said this user is a host here, or an operator: in a live room it may show as typing (PROTOCOL R15). */
  #signals = false;

  constructor(options: KaiwaRoomOptions) {
    this.#options = options;
    this.#live = options.room.startsWith("live:");
    this.#newId = options.newId ?? (() => nanoid());
    this.sessionId = this.#newId();
    this.#position = options.position ? { ...options.position } : null;
    this.#commands = new CommandQueue({ maxInFlight: options.maxInFlight ?? WIRE_LIMITS.maxInFlight, newId: this.#newId });
    this.#session = new Session(
      { ...options, party: options.party ?? "room", sessionId: this.sessionId, schedule: options.schedule ?? realSchedule },
      {
        onMessage: (data) => this.#onMessage(data),
        // Unemitted events are replayed by the next socket from the position, which they never advanced.
        onDrop: () => {
          if (this.#gate) this.#gate.buffered.length = 0;
          this.#awareness.dropped();
        },
        onStop: (error) => this.#onStop(error),
        onStatus: (change) => this.#emitter.emit("status", change),
        onError: (error) => this.#emitter.emit("error", error),
        query: (): Record<string, string> => {
          const at = this.#position;
          return { ...(options.observe ? { observe: "1" } : {}), ...(at ? { epoch: at.epoch, lastSeq: String(at.lastSeq) } : {}) };
        },
      },
    );
    this.#awareness = new ClientAwareness({
      send: (frame) => this.#session.ready && this.#session.send(frame),
      schedule: options.schedule ?? realSchedule,
      changed: () => this.#emitter.emit("awareness", this.#awareness.presence),
      // Observers read and never publish; a live room's viewers may not (PROTOCOL R74).
      publishes: options.awareness !== false && !options.observe && !this.#live,
    });
    if (options.autoConnect !== false) this.#session.startSoon();
  }

  get status(): Status {
    return this.#session.status;
  }

  /** The options this room was made with: for helpers outside the core bundle (`sendFile` in `kaiwa/client/files`). */
  get options(): Readonly<KaiwaRoomOptions> {
    return this.#options;
  }

  /** The last event delivered to the app (or the join point); pass it as `position` to resume later. */
  get position(): Position | null {
    return this.#position ? { ...this.#position } : null;
  }

  on<K extends keyof KaiwaRoomEvents>(name: K, handler: (payload: KaiwaRoomEvents[K]) => void): () => void {
    return this.#emitter.on(name, handler);
  }

  off<K extends keyof KaiwaRoomEvents>(name: K, handler: (payload: KaiwaRoomEvents[K]) => void): void {
    this.#emitter.off(name, handler);
  }

  /** `replyTo`: quote that message (PROTOCOL R22); `thread`: post in the thread under that message (PROTOCOL R23). */
  send(text: string, options: { attachments?: AttachmentRef[]; replyTo?: number; thread?: number } = {}): Promise<SendResult> {
    return this.#command({
      type: "send",
      text,
      ...(options.attachments ? { attachments: options.attachments } : {}),
      ...(options.replyTo !== undefined ? { replyTo: options.replyTo } : {}),
      ...(options.thread !== undefined ? { thread: options.thread } : {}),
    });
  }

  /** A reply quoting `parent` (PROTOCOL R22). */
  reply(parent: number, text: string): Promise<SendResult> {
    return this.send(text, { replyTo: parent });
  }

  /** PROTOCOL R20: add this user's `emoji` to message `target` (one of each per user). */
  react(target: number, emoji: string): Promise<SendResult> {
    return this.#command({ type: "react", target, emoji });
  }

  /** PROTOCOL R20: take back this user's `emoji` on message `target`. */
  unreact(target: number, emoji: string): Promise<SendResult> {
    return this.#command({ type: "react", target, emoji, remove: true });
  }

  /** PROTOCOL R24: pin a message (moderators and owners in groups, either participant in a DM, operators elsewhere). */
  pin(target: number): Promise<SendResult> {
    return this.#command({ type: "pin", target });
  }

  unpin(target: number): Promise<SendResult> {
    return this.#command({ type: "pin", target, remove: true });
  }

  /** A message's reactions as this user knows them: counts per emoji and which ones are this user's. */
  reactions(seq: number): Reactions {
    return this.#features.reactions(seq);
  }

  /** The current quote of `parent` (its author and an excerpt that follows edits and deletions), once seen. */
  quote(parent: number): Quote | undefined {
    return this.#features.quote(parent);
  }

  /** The room's pinned messages, oldest pin first: from the welcome, kept by pin and delete events. */
  get pins(): Pin[] {
    return this.#features.pins;
  }

  /** PROTOCOL R23: the thread under `parent`, replies with seq > `after` (default 0), oldest first. */
  thread(parent: number, options: { after?: number; limit?: number } = {}): Promise<ThreadPage> {
    if (this.status === "closed") return Promise.reject(this.#closedError);
    const frame = ThreadRequest.safeParse({ type: "thread", requestId: this.#newId(), parent, after: options.after, limit: options.limit });
    if (!frame.success) return Promise.reject(new KaiwaError("bad_frame", frame.error.issues[0]?.message));
    return new Promise((resolve, reject) => {
      this.#threads.add(frame.data, (page) => {
        this.#features.page([page.parent, ...page.events], page);
        resolve(page);
      }, reject);
      this.#pump();
    });
  }

  edit(target: number, text: string): Promise<SendResult> {
    return this.#command({ type: "edit", target, text });
  }

  delete(target: number): Promise<SendResult> {
    return this.#command({ type: "delete", target });
  }

  // ---- Groups: membership commands are sequenced like messages and resolve on their durable ack.

  createGroup(title: string, members: string[]): Promise<SendResult> {
    return this.#command({ type: "group.create", title, members });
  }

  renameGroup(title: string): Promise<SendResult> {
    return this.#command({ type: "group.rename", title });
  }

  addMember(user: string): Promise<SendResult> {
    return this.#command({ type: "member.add", user });
  }

  removeMember(user: string): Promise<SendResult> {
    return this.#command({ type: "member.remove", user });
  }

  setRole(user: string, role: Role): Promise<SendResult> {
    return this.#command({ type: "member.role", user, role });
  }

  leaveGroup(): Promise<SendResult> {
    return this.#command({ type: "group.leave" });
  }

  /** Marks everything up to `seq` read (PROTOCOL I6: forward only); resolves with the stored read position. */
  read(seq: number): Promise<number> {
    if (this.status === "closed") return Promise.reject(this.#closedError);
    if (!Number.isInteger(seq) || seq < 1) return Promise.reject(new KaiwaError("bad_frame", "seq must be a positive integer"));
    const requestId = this.#newId();
    return new Promise((resolve, reject) => {
      this.#reads.set(requestId, { seq, resolve, reject, sent: false });
      this.#pump();
    });
  }

  /** Tells the room this user is typing; throttled here to one signal per 2 s, dropped while offline. */
  typing(): void {
    this.#awareness.typing();
    const now = Date.now();
    // A live room shows only its hosts and operators typing (PROTOCOL R15, R50): the welcome says which this user is.
    if (!this.#session.ready || (this.#live && !this.#signals) || now - this.#lastTypingAt < TYPING_THROTTLE_MS) return;
    this.#lastTypingAt = now;
    this.#session.send(JSON.stringify({ type: "typing" } satisfies ClientFrame));
  }

  /**
   * Who is here, by user id, as awareness states (PROTOCOL R73): each of a user's connections with the
   * room-stamped `user`, `typing` while they type, and the app's fields from `setState`. Event: `awareness`.
   */
  get presence(): ReadonlyMap<string, readonly PresenceState[]> {
    return this.#awareness.presence;
  }

  /** App-defined fields of this connection's awareness state (`{status: "away"}`); `undefined` removes one. */
  setState(fields: Record<string, unknown>): void {
    this.#awareness.setState(fields);
  }

  /** Group or DM state: roles, read positions, who is here and typing. */
  get members(): { kind: "dm" | "group" | "notices" | null; title: string; roles: ReadonlyMap<string, Role>; present: ReadonlySet<string>; typing: readonly string[]; occupancy: number } {
    const m = this.#members;
    return { kind: m.kind, title: m.title, roles: m.roles, present: m.present, typing: m.typing, occupancy: m.occupancy };
  }

  /** Members (except `except`, e.g. the author) who have read up to `seq`: "read by 12" or who. */
  readers(seq: number, except?: string): string[] {
    return this.#members.readers(seq, except);
  }

  /** DMs: the peer's inbox has every event up to this seq ("delivered"). */
  deliveredTo(user: string): number {
    return this.#members.delivered.get(user) ?? 0;
  }

  /** A page of events with seq < before (default: the latest), ascending. Waits until the room is open. */
  history(options: { before?: number; limit?: number } = {}): Promise<HistoryPage> {
    if (this.status === "closed") return Promise.reject(this.#closedError);
    const frame = HistoryRequest.safeParse({ type: "history", requestId: this.#newId(), before: options.before, limit: options.limit });
    if (!frame.success) return Promise.reject(new KaiwaError("bad_frame", frame.error.issues[0]?.message));
    return new Promise((resolve, reject) => {
      this.#history.add(frame.data, resolve, reject);
      this.#pump();
    });
  }

  /** Connects now: after auth_failed (with a fresh token getter result), after close(), or to skip a wait. */
  reconnect(): void {
    this.#closedError = new KaiwaError("closed");
    this.#session.reconnect();
  }

  /** Closes for good: pending commands and history requests reject with `closed`. */
  close(): void {
    this.#session.close("close() called", new KaiwaError("closed"));
  }

  #onStop(error: KaiwaError): void {
    this.#awareness.closed();
    // A ban is a lasting state, so later calls keep saying so; other refusals answer later calls with `closed`.
    if (error.code === "banned") this.#closedError = error;
    this.#gate = null;
    this.#commands.rejectAll(error);
    this.#history.rejectAll(error);
    this.#threads.rejectAll(error);
    for (const read of this.#reads.values()) read.reject(error);
    this.#reads.clear();
  }

  // ---- Outbound.

  #command(input: CommandBody): Promise<SendResult> {
    if (this.status === "closed") return Promise.reject(this.#closedError);
    const checked = checkCommand(input);
    if (!checked.ok) return Promise.reject(checked.error);
    const sent = this.#commands.add(checked.body);
    // Commands made in the same tick leave together in one batch frame (PROTOCOL R17, see packCommands).
    if (!this.#pumpQueued) {
      this.#pumpQueued = true;
      queueMicrotask(() => {
        this.#pumpQueued = false;
        this.#pump();
      });
    }
    return sent;
  }

  /** Sends what may go out now: only after the welcome, within the window, each once per socket. */
  #pump(): void {
    const session = this.#session;
    if (!session.ready) return;
    const commands: string[] = [];
    for (let command = this.#commands.nextToSend(); command; command = this.#commands.nextToSend()) {
      commands.push(JSON.stringify(command satisfies ClientFrame));
    }
    for (const frame of this.#batchAccepted ? packCommands(commands) : commands) session.send(frame);
    for (const frame of this.#history.takeUnsent()) session.send(JSON.stringify(frame satisfies ClientFrame));
    for (const frame of this.#threads.takeUnsent()) session.send(JSON.stringify(frame satisfies ClientFrame));
    for (const [requestId, read] of this.#reads) {
      if (read.sent) continue;
      read.sent = true;
      session.send(JSON.stringify({ type: "read", seq: read.seq, requestId } satisfies ClientFrame));
    }
  }

  // ---- Inbound.

  #onMessage(data: unknown): void {
    if (data instanceof ArrayBuffer || ArrayBuffer.isView(data)) return this.#onBinary(data);
    const parsed = parseServerFrame(data);
    if (!parsed.ok) return this.#invalid(parsed.what);
    const frame = parsed.frame;
    switch (frame.type) {
      case "welcome":
        return this.#onWelcome(frame);
      case "events":
        if (!this.#session.ready) return this.#invalid("events before the welcome");
        this.#features.page(frame.events, frame);
        if (this.#gate) return void this.#gate.buffered.push(frame.events);
        return this.#deliver(frame.events);
      case "ack":
        return this.#onAck(frame);
      case "history":
        this.#features.page(frame.events, frame);
        return void this.#history.resolve(frame);
      case "thread":
        return void this.#threads.resolve(frame);
      case "error":
        return this.#onError(frame);
      case "receipts": {
        this.#members.receipts(frame);
        const mine = frame.requestId ? this.#reads.get(frame.requestId) : undefined;
        if (mine && frame.requestId) {
          this.#reads.delete(frame.requestId);
          mine.resolve(Object.values(frame.reads)[0] ?? mine.seq);
        }
        return this.#emitter.emit("receipts", frame);
      }
      case "presence":
        this.#members.presence(frame);
        return this.#emitter.emit("presence", frame);
      case "typing":
        this.#members.typingFrame(frame);
        return this.#emitter.emit("typing", frame.users);
      case "redirect":
        // PROTOCOL R51: a live room's viewer belongs on a relay shard (or back on the room): go there now,
        // with the same session and position, without waiting for the 4031 close.
        return this.#session.redirect(frame.party, frame.id);
    }
  }

  /** Binary frames are awareness (PROTOCOL R72). */
  #onBinary(data: ArrayBuffer | ArrayBufferView): void {
    const bytes = data instanceof ArrayBuffer ? new Uint8Array(data) : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    if (!this.#session.ready) return this.#invalid("an awareness frame before the welcome");
    if (!this.#awareness.frame(bytes)) this.#invalid("a malformed awareness frame");
  }

  #invalid(what: string): void {
    this.#emitter.emit("error", new KaiwaError("bad_frame", `The room sent ${what}; ignored.`));
  }

  #onWelcome(welcome: WelcomeFrame): void {
    if (this.#session.ready) return this.#invalid("a second welcome on one socket");
    this.#batchAccepted = welcome.accepts?.includes("batch") === true;
    this.#signals = welcome.host === true || welcome.user.role === "operator";
    this.#commands.grant(welcome.window); // PROTOCOL R84: no more unacked on this socket than the room grants
    const had = this.#position;
    const resume = welcome.resume;
    let reset: ResetReason | null = null;
    if (resume && !resume.recovered) reset = resume.reason;
    else if (!resume && had && (had.epoch !== welcome.epoch || had.lastSeq !== welcome.lastSeq)) reset = "not_resumed";
    // PROTOCOL I5: recovered means the replay that follows starts right after our lastSeq; otherwise join at the room's.
    this.#position = resume?.recovered && had ? { epoch: welcome.epoch, lastSeq: had.lastSeq } : { epoch: welcome.epoch, lastSeq: welcome.lastSeq };
    // PROTOCOL I4: unacked commands go again, in order; the room lost our session's numbers when its stream changed.
    this.#commands.resend(welcome.sessionLastN, reset === "epoch_changed" || reset === "ahead_of_room");
    this.#history.resetSent();
    this.#threads.resetSent();
    this.#features.welcome(welcome.user.id, welcome.pins);
    for (const read of this.#reads.values()) read.sent = false;
    this.#members.welcome(welcome.members);
    this.#session.welcomed();
    this.#awareness.welcomed();
    if (reset) this.#beginReset(reset, this.#position.lastSeq);
    this.#emitter.emit("welcome", welcome);
    const how = !resume ? "joined" : resume.recovered ? "resumed" : `reset (${resume.reason})`;
    this.#session.opened(`${how} at ${welcome.epoch}:${this.#position.lastSeq}`);
    this.#pump();
  }

  /** The position jumped: fetch the page ending at the join point, emit reset, then release held events. */
  #beginReset(reason: ResetReason, lastSeq: number): void {
    const gate: { reason: ResetReason; buffered: RoomEvent[][] } = { reason, buffered: [] };
    this.#gate = gate;
    const release = (latest: HistoryPage): void => {
      if (this.#gate !== gate) return; // superseded by a newer reset, or closed
      this.#gate = null;
      this.#emitter.emit("reset", { reason, latest });
      for (const events of gate.buffered.splice(0)) {
        if (this.#gate || !this.#session.ready) break;
        this.#deliver(events);
      }
    };
    this.history({ before: lastSeq + 1, limit: RESET_PAGE_LIMIT }).then(release, (error: unknown) => {
      if (this.#gate !== gate) return;
      if (error instanceof KaiwaError) this.#emitter.emit("error", error);
      release({ events: [], hasMore: lastSeq > 0, mine: {}, quotes: {} });
    });
  }

  #deliver(events: RoomEvent[]): void {
    const position = this.#position;
    if (!position) return;
    const conn = this.#session.connection;
    const { deliver, gapAt } = sequence(position.lastSeq, events);
    for (const event of deliver) {
      if (this.#session.connection !== conn) return; // a handler closed or reconnected the room
      this.#position = { epoch: position.epoch, lastSeq: event.seq };
      this.#features.event(event);
      this.#emitter.emit("event", event);
      if (event.kind === "message") this.#emitter.emit("message", event);
      else if (event.kind === "edit") this.#emitter.emit("edit", event);
      else if (event.kind === "delete") this.#emitter.emit("delete", event);
      else if (event.kind === "announcement") this.#emitter.emit("announcement", event);
      else if (event.kind === "moderation") this.#emitter.emit("moderation", event);
      else if (event.kind === "reaction") this.#emitter.emit("reaction", event);
      else if (event.kind === "pin") this.#emitter.emit("pin", event);
      else {
        this.#members.event(event);
        this.#emitter.emit("membership", event);
      }
    }
    // PROTOCOL I1 says this cannot happen; if it does, never show a hole: have the room replay from lastSeq.
    if (gapAt !== null && this.#session.connection === conn) this.#session.restart(`gap: expected seq ${(this.#position?.lastSeq ?? 0) + 1}, got ${gapAt}`);
  }

  #onAck(frame: AckFrame): void {
    for (const ack of frame.acks) this.#commands.ack(ack.clientId, { clientId: ack.clientId, seq: ack.seq, ts: ack.ts });
    this.#pump(); // the window has room again
  }

  #onError(frame: ErrorFrame): void {
    const error = KaiwaError.fromFrame(frame);
    if (frame.ref !== undefined && (this.#history.reject(frame.ref, error) || this.#threads.reject(frame.ref, error))) return;
    const read = frame.ref !== undefined ? this.#reads.get(frame.ref) : undefined;
    if (read && frame.ref !== undefined) {
      this.#reads.delete(frame.ref);
      return read.reject(error);
    }
    const outcome = this.#commands.fail(error);
    if (outcome === "removed") return this.#pump();
    if (outcome === "kept") return this.#session.restart(`${error.code} for ${frame.ref}`, error.retryAfterMs ?? 0);
    // PROTOCOL R18, R19: the socket is being closed (over a limit, or its token expired); come back no sooner
    // than the room asked, with a fresh token, and resend every unacked command in order.
    if (frame.code === "rate_limited" || frame.code === "session_expired") return this.#session.restart(error.code, error.retryAfterMs ?? 0);
    // A ban after the welcome is final: act on the frame, not on the close that may reach us seconds later
    // (a hibernated relay's close, PROTOCOL R52).
    if (frame.code === "banned" && this.#session.ready) {
      this.#emitter.emit("error", error);
      return this.#session.close("banned", error);
    }
    this.#session.noteError(error);
    this.#emitter.emit("error", error);
  }
}
