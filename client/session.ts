import { isRetryableClose } from "../party/protocol/index.ts";
import { backoffDelay, type BackoffOptions } from "./backoff.ts";
import { Connection } from "./connection.ts";
import { KaiwaError } from "./errors.ts";
import { describeClose } from "./frames.ts";
import { isErrorCode } from "./errors.ts";
import { Heartbeat } from "./heartbeat.ts";
import { isStopped, StatusMachine, type Status, type StatusChange } from "./status.ts";
import type { Schedule, Timer } from "./timers.ts";

/**
 * The connection lifecycle shared by KaiwaRoom and KaiwaInbox: one Connection per attempt, a fresh token
 * per attempt, full-jitter backoff, ping/pong heartbeat, and the close-code table deciding between
 * reconnecting, auth_failed (4001) and closed (other 4xxx). What a frame means is the owner's business:
 * it gets every text frame but "pong", and hooks for the moments its per-socket state must be reset.
 */
export type SessionOptions = {
  host: string;
  /** The room id in /parties/<party>/<room> (the user id for an inbox). */
  room: string;
  party: string;
  token: string | (() => string | Promise<string>);
  sessionId: string;
  protocol?: "ws" | "wss";
  WebSocket?: unknown;
  connectionTimeoutMs?: number;
  backoff?: BackoffOptions;
  pingIntervalMs?: number;
  pongTimeoutMs?: number;
  schedule: Schedule;
};

export type SessionHooks = {
  /** Every inbound frame except the heartbeat's "pong". */
  onMessage(data: unknown): void;
  /** The current socket is gone (closed, replaced or abandoned): forget everything tied to it. `wasLive`: it had been welcomed. */
  onDrop(wasLive: boolean): void;
  /** Closed for good (close() or a non-retryable refusal): reject pending work with `error`. */
  onStop(error: KaiwaError): void;
  onStatus(change: StatusChange): void;
  /** Errors of the lifecycle itself (the token getter failed). */
  onError(error: KaiwaError): void;
  /** Query params of this attempt besides token and session (e.g. a resume position). */
  query?(): Record<string, string>;
};

/** A connection that stayed welcomed this long resets the backoff (a flapping server still backs off). */
const STABLE_AFTER_MS = 5_000;

export class Session {
  readonly #options: SessionOptions;
  readonly #hooks: SessionHooks;
  readonly #status: StatusMachine;
  readonly #heartbeat: Heartbeat;
  #conn: Connection | null = null;
  /** The current socket has had its welcome: commands may go out. */
  #welcomed = false;
  #welcomedAt = 0;
  /** The refusal error frame of the current attempt (sent just before a 4xxx close). */
  #refusal: KaiwaError | null = null;
  #retryTimer: Timer | null = null;
  #attempt = 0;
  /** Where sockets go: the room, or the relay shard a redirect named (PROTOCOL R51). */
  #target: { party: string; room: string };
  /** Redirects followed since the last welcome: past a few, the next one waits like any retry (a loop backs off). */
  #redirects = 0;

  constructor(options: SessionOptions, hooks: SessionHooks) {
    this.#options = options;
    this.#hooks = hooks;
    this.#target = { party: options.party, room: options.room };
    this.#status = new StatusMachine((change) => hooks.onStatus(change));
    this.#heartbeat = new Heartbeat({
      intervalMs: options.pingIntervalMs ?? 20_000,
      timeoutMs: options.pongTimeoutMs ?? 8_000,
      schedule: options.schedule,
      sendPing: () => this.#conn?.send("ping"),
      onTimeout: () => this.restart("no answer to ping (half-open socket)"),
    });
  }

  get status(): Status {
    return this.#status.current;
  }

  /** The current attempt; compare identities to notice that a handler closed or reconnected meanwhile. */
  get connection(): Connection | null {
    return this.#conn;
  }

  /** A socket is open and welcomed: frames may go out. */
  get ready(): boolean {
    return this.#conn !== null && this.#welcomed;
  }

  /** Connects on the next microtask unless something else started it first. */
  startSoon(): void {
    queueMicrotask(() => {
      if (this.status === "idle") this.#open("connecting", "started");
    });
  }

  send(frame: string | Uint8Array): boolean {
    const sent = this.#conn?.send(frame) ?? false;
    if (sent) this.#heartbeat.sent();
    return sent;
  }

  /** The owner accepted this socket's welcome; call `opened` once it has applied it. */
  welcomed(): void {
    this.#redirects = 0;
    this.#welcomed = true;
    this.#welcomedAt = Date.now();
  }

  opened(reason: string): void {
    this.#status.transition("open", reason);
  }

  /** An error frame not tied to a request: before the welcome it is the refusal a 4xxx close will explain. */
  noteError(error: KaiwaError): void {
    if (!this.#welcomed) this.#refusal = error;
  }

  /** Connects now: after auth_failed (with a fresh token getter result), after close(), or to skip a wait. */
  reconnect(): void {
    this.#attempt = 0;
    this.#open(isStopped(this.status) ? "connecting" : "reconnecting", "reconnect() called");
  }

  /**
   * PROTOCOL R51, R53: the server moved this session to `/parties/<party>/<room>` (a relay shard, or back to
   * the room). Connects there at once; the following 4031 close is for a socket already dropped.
   */
  redirect(party: string, room: string): void {
    this.#target = { party, room };
    if (++this.#redirects <= 3) this.#open("reconnecting", `moved to ${party}/${room}`);
    else this.restart(`moved to ${party}/${room}`);
  }

  close(reason: string, error: KaiwaError): void {
    this.#stop(reason, error);
  }

  /** Drops the socket and schedules the next attempt after full-jitter backoff (at least minDelayMs). */
  restart(reason: string, minDelayMs = 0): void {
    if (this.#welcomed && Date.now() - this.#welcomedAt >= STABLE_AFTER_MS) this.#attempt = 0;
    this.#drop();
    this.#status.transition("reconnecting", reason);
    const delay = Math.max(minDelayMs, backoffDelay(this.#attempt++, this.#options.backoff));
    this.#retryTimer = this.#options.schedule(() => {
      this.#retryTimer = null;
      this.#open("reconnecting", reason);
    }, delay);
  }

  #open(status: Status, reason: string): void {
    this.#drop();
    this.#status.transition(status, reason);
    this.#refusal = null;
    const options = this.#options;
    this.#conn = new Connection(
      {
        host: options.host,
        room: this.#target.room,
        party: this.#target.party,
        protocol: options.protocol,
        WebSocket: options.WebSocket,
        connectionTimeoutMs: options.connectionTimeoutMs,
        query: () => this.#query(),
      },
      {
        onOpen: () => this.#heartbeat.touch(),
        onMessage: (data) => this.#onMessage(data),
        onClose: (code, why) => this.#onClose(code, why),
      },
    );
  }

  /** Built on every attempt: a fresh token, plus whatever the owner adds. */
  async #query(): Promise<Record<string, string>> {
    const source = this.#options.token;
    let token: string;
    try {
      token = typeof source === "string" ? source : await source();
    } catch (cause) {
      this.#hooks.onError(new KaiwaError("token_unavailable", undefined, { cause }));
      throw cause;
    }
    return { token, session: this.#options.sessionId, ...this.#hooks.query?.() };
  }

  #onMessage(data: unknown): void {
    this.#heartbeat.touch();
    if (data === "pong") return;
    this.#hooks.onMessage(data);
  }

  /** Forgets the current socket (closing it) and any scheduled attempt. */
  #drop(): void {
    const wasLive = this.ready;
    this.#retryTimer?.cancel();
    this.#retryTimer = null;
    this.#heartbeat.stop();
    this.#conn?.close();
    this.#conn = null;
    this.#welcomed = false;
    this.#hooks.onDrop(wasLive);
  }

  #onClose(code: number, why: string): void {
    const { name, reason } = describeClose(code, why);
    if (name === "unauthorized") {
      // Not final: the app gets a new token and calls reconnect(); pending work stays queued.
      this.#drop();
      this.#status.transition("auth_failed", reason);
    } else if (!isRetryableClose(code)) {
      // A close named after an error code (4030 banned, 4004 not_member) is that error, even without a frame.
      const named = name !== undefined && isErrorCode(name) ? new KaiwaError(name, reason) : undefined;
      this.#stop(reason, this.#refusal ?? named ?? new KaiwaError("closed", reason));
    } else {
      this.restart(reason);
    }
  }

  #stop(reason: string, error: KaiwaError): void {
    this.#drop();
    this.#status.transition("closed", reason);
    this.#hooks.onStop(error);
  }
}
