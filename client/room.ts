import { nanoid } from "nanoid";
import {
  HistoryRequest,
  isResent,
  isRetryableClose,
  LIMITS,
  type AckFrame,
  type Attachment,
  type ClientFrame,
  type ErrorFrame,
  type RoomEvent,
  type WelcomeFrame,
} from "../party/protocol/index.ts";
import { backoffDelay } from "./backoff.ts";
import { checkCommand } from "./commands.ts";
import { Connection } from "./connection.ts";
import { Emitter } from "./emitter.ts";
import { isErrorCode, KaiwaError } from "./errors.ts";
import { describeClose, parseServerFrame } from "./frames.ts";
import { Heartbeat } from "./heartbeat.ts";
import { Outbox, type CommandBody } from "./outbox.ts";
import { HistoryRequests, type HistoryPage } from "./requests.ts";
import { sequence, type Position } from "./sequencer.ts";
import { isStopped, StatusMachine, type Status } from "./status.ts";
import { realSchedule, type Schedule, type Timer } from "./timers.ts";
import type { KaiwaRoomEvents, KaiwaRoomOptions, ResetReason, SendResult } from "./types.ts";

export type { KaiwaRoomEvents, KaiwaRoomOptions, ResetInfo, ResetReason, SendResult } from "./types.ts";

const RESET_PAGE_LIMIT = 50;
/** A connection that stayed welcomed this long resets the backoff (a flapping server still backs off). */
const STABLE_AFTER_MS = 5_000;

export class KaiwaRoom {
  readonly sessionId: string;
  readonly #options: KaiwaRoomOptions;
  readonly #newId: () => string;
  readonly #schedule: Schedule;
  readonly #emitter = new Emitter<KaiwaRoomEvents>();
  readonly #status = new StatusMachine((change) => this.#emitter.emit("status", change));
  readonly #outbox: Outbox;
  readonly #waiters = new Map<string, { resolve: (ack: SendResult) => void; reject: (error: KaiwaError) => void }>();
  readonly #history = new HistoryRequests();
  readonly #heartbeat: Heartbeat;
  #position: Position | null;
  #conn: Connection | null = null;
  /** The current socket has had its welcome: commands may go out. */
  #welcomed = false;
  #welcomedAt = 0;
  /** The refusal error frame of the current attempt (sent just before a 4xxx close). */
  #refusal: KaiwaError | null = null;
  #retryTimer: Timer | null = null;
  #attempt = 0;
  /** While a reset's history page is fetched, events wait here so the app sees reset before them. */
  #gate: { reason: ResetReason; buffered: RoomEvent[][] } | null = null;
  /** What later calls reject with once closed: `closed`, or the error a close code names (4030 → `banned`). */
  #closedError = new KaiwaError("closed");

  constructor(options: KaiwaRoomOptions) {
    this.#options = options;
    this.#newId = options.newId ?? (() => nanoid());
    this.#schedule = options.schedule ?? realSchedule;
    this.sessionId = this.#newId();
    this.#position = options.position ? { ...options.position } : null;
    this.#outbox = new Outbox({ maxInFlight: options.maxInFlight ?? LIMITS.maxInFlight, newId: this.#newId });
    this.#heartbeat = new Heartbeat({
      intervalMs: options.pingIntervalMs ?? 20_000,
      timeoutMs: options.pongTimeoutMs ?? 8_000,
      schedule: this.#schedule,
      sendPing: () => this.#conn?.send("ping"),
      onTimeout: () => this.#restart("no answer to ping (half-open socket)"),
    });
    if (options.autoConnect !== false) {
      queueMicrotask(() => {
        if (this.status === "idle") this.#open("connecting", "started");
      });
    }
  }

  get status(): Status {
    return this.#status.current;
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

  send(text: string, options: { attachments?: Attachment[] } = {}): Promise<SendResult> {
    return this.#command(options.attachments ? { type: "send", text, attachments: options.attachments } : { type: "send", text });
  }

  edit(target: number, text: string): Promise<SendResult> {
    return this.#command({ type: "edit", target, text });
  }

  delete(target: number): Promise<SendResult> {
    return this.#command({ type: "delete", target });
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
    this.#attempt = 0;
    this.#closedError = new KaiwaError("closed");
    this.#open(isStopped(this.status) ? "connecting" : "reconnecting", "reconnect() called");
  }

  /** Closes for good: pending commands and history requests reject with `closed`. */
  close(): void {
    this.#stop("close() called", new KaiwaError("closed"));
  }

  // ---- Connection lifecycle.

  #open(status: Status, reason: string): void {
    this.#drop();
    this.#status.transition(status, reason);
    this.#refusal = null;
    const conn: Connection = new Connection(
      {
        host: this.#options.host,
        room: this.#options.room,
        party: this.#options.party ?? "room",
        protocol: this.#options.protocol,
        WebSocket: this.#options.WebSocket,
        connectionTimeoutMs: this.#options.connectionTimeoutMs,
        query: () => this.#query(),
      },
      {
        onOpen: () => this.#heartbeat.touch(),
        onMessage: (data) => this.#onMessage(data),
        onClose: (code, why) => this.#onClose(code, why),
      },
    );
    this.#conn = conn;
  }

  /** Built on every attempt: a fresh token, and the position to resume from if there is one. */
  async #query(): Promise<Record<string, string>> {
    const source = this.#options.token;
    let token: string;
    try {
      token = typeof source === "string" ? source : await source();
    } catch (cause) {
      this.#emitter.emit("error", new KaiwaError("token_unavailable", undefined, { cause }));
      throw cause;
    }
    const query: Record<string, string> = { token, session: this.sessionId };
    if (this.#options.observe) query.observe = "1";
    if (this.#position) {
      query.epoch = this.#position.epoch;
      query.lastSeq = String(this.#position.lastSeq);
    }
    return query;
  }

  /** Forgets the current socket (closing it) and any scheduled attempt. */
  #drop(): void {
    this.#retryTimer?.cancel();
    this.#retryTimer = null;
    this.#heartbeat.stop();
    this.#conn?.close();
    this.#conn = null;
    this.#welcomed = false;
    // Unemitted events are replayed by the next socket from the position, which they never advanced.
    if (this.#gate) this.#gate.buffered.length = 0;
  }

  #onClose(code: number, why: string): void {
    const { name, reason } = describeClose(code, why);
    if (name === "unauthorized") {
      // Not final: the app gets a new token and calls reconnect(); pending work stays queued.
      this.#drop();
      this.#status.transition("auth_failed", reason);
    } else if (!isRetryableClose(code)) {
      // A close named after an error code (4030 banned) is that error, even without a preceding frame.
      const named = name !== undefined && isErrorCode(name) ? new KaiwaError(name, reason) : undefined;
      const final = this.#refusal ?? named ?? new KaiwaError("closed", reason);
      this.#stop(reason, final);
      // A ban is a lasting state, so later calls keep saying so; other refusals answer later calls with `closed`.
      if (final.code === "banned") this.#closedError = final;
    } else {
      this.#restart(reason);
    }
  }

  /** Drops the socket and schedules the next attempt after full-jitter backoff (at least minDelayMs). */
  #restart(reason: string, minDelayMs = 0): void {
    if (this.#welcomed && Date.now() - this.#welcomedAt >= STABLE_AFTER_MS) this.#attempt = 0;
    this.#drop();
    this.#status.transition("reconnecting", reason);
    const delay = Math.max(minDelayMs, backoffDelay(this.#attempt++, this.#options.backoff));
    this.#retryTimer = this.#schedule(() => {
      this.#retryTimer = null;
      this.#open("reconnecting", reason);
    }, delay);
  }

  #stop(reason: string, error: KaiwaError): void {
    this.#closedError = new KaiwaError("closed");
    this.#drop();
    this.#gate = null;
    this.#status.transition("closed", reason);
    for (const command of this.#outbox.drain()) {
      const waiter = this.#waiters.get(command.clientId);
      this.#waiters.delete(command.clientId);
      waiter?.reject(error);
    }
    this.#history.rejectAll(error);
  }

  // ---- Outbound.

  #command(input: CommandBody): Promise<SendResult> {
    if (this.status === "closed") return Promise.reject(this.#closedError);
    const checked = checkCommand(input);
    if (!checked.ok) return Promise.reject(checked.error);
    const command = this.#outbox.enqueue(checked.body);
    return new Promise((resolve, reject) => {
      this.#waiters.set(command.clientId, { resolve, reject });
      this.#pump();
    });
  }

  /** Sends what may go out now: only after the welcome, within the window, each once per socket. */
  #pump(): void {
    const conn = this.#conn;
    if (!conn || !this.#welcomed) return;
    for (let command = this.#outbox.nextToSend(); command; command = this.#outbox.nextToSend()) {
      conn.send(JSON.stringify(command satisfies ClientFrame));
    }
    for (const frame of this.#history.takeUnsent()) conn.send(JSON.stringify(frame satisfies ClientFrame));
  }

  // ---- Inbound.

  #onMessage(data: unknown): void {
    this.#heartbeat.touch();
    if (data === "pong") return;
    const parsed = parseServerFrame(data);
    if (!parsed.ok) return this.#invalid(parsed.what);
    const frame = parsed.frame;
    switch (frame.type) {
      case "welcome":
        return this.#onWelcome(frame);
      case "events":
        if (!this.#welcomed) return this.#invalid("events before the welcome");
        if (this.#gate) return void this.#gate.buffered.push(frame.events);
        return this.#deliver(frame.events);
      case "ack":
        return this.#onAck(frame);
      case "history":
        return void this.#history.resolve(frame);
      case "error":
        return this.#onError(frame);
    }
  }

  #invalid(what: string): void {
    this.#emitter.emit("error", new KaiwaError("bad_frame", `The room sent ${what}; ignored.`));
  }

  #onWelcome(welcome: WelcomeFrame): void {
    if (this.#welcomed) return this.#invalid("a second welcome on one socket");
    const had = this.#position;
    const resume = welcome.resume;
    let reset: ResetReason | null = null;
    if (resume && !resume.recovered) reset = resume.reason;
    else if (!resume && had && (had.epoch !== welcome.epoch || had.lastSeq !== welcome.lastSeq)) reset = "not_resumed";
    // I5: recovered means the replay that follows starts right after our lastSeq; otherwise join at the room's.
    this.#position = resume?.recovered && had ? { epoch: welcome.epoch, lastSeq: had.lastSeq } : { epoch: welcome.epoch, lastSeq: welcome.lastSeq };
    // I4: unacked commands go again, in order; the room lost our session's numbers when its stream changed.
    this.#outbox.resend(welcome.sessionLastN, reset === "epoch_changed" || reset === "ahead_of_room");
    this.#history.resetSent();
    this.#welcomed = true;
    this.#welcomedAt = Date.now();
    if (reset) this.#beginReset(reset, this.#position.lastSeq);
    this.#emitter.emit("welcome", welcome);
    const how = !resume ? "joined" : resume.recovered ? "resumed" : `reset (${resume.reason})`;
    this.#status.transition("open", `${how} at ${welcome.epoch}:${this.#position.lastSeq}`);
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
        if (this.#gate || !this.#welcomed) break;
        this.#deliver(events);
      }
    };
    this.history({ before: lastSeq + 1, limit: RESET_PAGE_LIMIT }).then(release, (error: unknown) => {
      if (this.#gate !== gate) return;
      if (error instanceof KaiwaError) this.#emitter.emit("error", error);
      release({ events: [], hasMore: lastSeq > 0 });
    });
  }

  #deliver(events: RoomEvent[]): void {
    const position = this.#position;
    if (!position) return;
    const conn = this.#conn;
    const { deliver, gapAt } = sequence(position.lastSeq, events);
    for (const event of deliver) {
      if (this.#conn !== conn) return; // a handler closed or reconnected the room
      this.#position = { epoch: position.epoch, lastSeq: event.seq };
      this.#emitter.emit("event", event);
      if (event.kind === "message") this.#emitter.emit("message", event);
      else if (event.kind === "edit") this.#emitter.emit("edit", event);
      else if (event.kind === "delete") this.#emitter.emit("delete", event);
      else if (event.kind === "announcement") this.#emitter.emit("announcement", event);
      else this.#emitter.emit("moderation", event);
    }
    // I1 says this cannot happen; if it does, never show a hole: have the room replay from lastSeq.
    if (gapAt !== null && this.#conn === conn) this.#restart(`gap: expected seq ${(this.#position?.lastSeq ?? 0) + 1}, got ${gapAt}`);
  }

  #onAck(frame: AckFrame): void {
    for (const ack of frame.acks) {
      if (!this.#outbox.ack(ack.clientId)) continue; // an ack already handled (e.g. before a resend)
      const waiter = this.#waiters.get(ack.clientId);
      this.#waiters.delete(ack.clientId);
      waiter?.resolve({ clientId: ack.clientId, seq: ack.seq, ts: ack.ts });
    }
    this.#pump(); // the window has room again
  }

  #onError(frame: ErrorFrame): void {
    const error = KaiwaError.fromFrame(frame);
    if (frame.ref !== undefined) {
      if (this.#history.reject(frame.ref, error)) return;
      const failed = this.#outbox.fail(frame.ref, isErrorCode(error.code) && isResent(error.code));
      if (failed.outcome === "removed") {
        const waiter = this.#waiters.get(frame.ref);
        this.#waiters.delete(frame.ref);
        waiter?.reject(error);
        return this.#pump();
      }
      // Resent codes (storage_failed, internal): commands behind this one may already be on the
      // wire, so resending it alone could reorder them; a new socket resends all unacked in order.
      if (failed.outcome === "kept") return this.#restart(`${error.code} for ${frame.ref}`, error.retryAfterMs ?? 0);
    }
    if (!this.#welcomed) this.#refusal = error;
    this.#emitter.emit("error", error);
  }
}
