/**
 * A relay shard's one subscription to its live room (PROTOCOL R52): a socket opened as an actor (through
 * `context.parties`, or over the network with a service token: relay/room-link.ts, PROTOCOL R55), resumed by (epoch, lastSeq)
 * exactly like a client's (PROTOCOL I5): a relay that reconnects, or fell behind, gets every event after its
 * position once and in order, or a `recovered: false` welcome after which its viewers resync.
 */
import { CLOSE, RELAY_QUERY_PARAM, RelayConfigFrame, backoffDelay, type BackoffOptions, type Pin, type RelayCountFrame } from "../protocol/index.ts";
import { relayIdentity, type RoomLink } from "./room-link.ts";
import type { SignalKind } from "./signals.ts";

export type UpstreamEvents = {
  /** The room's welcome: where the stream is, whether the relay's position was recovered, and the room's pins. */
  welcome(epoch: string, lastSeq: number, recovered: boolean, pins: Pin[]): void;
  /** One `events` frame, as the room serialised it. */
  events(frame: string): void;
  config(frame: RelayConfigFrame): void;
  /** A `presence` or `typing` frame, as the room serialised it (PROTOCOL R52: the viewers get it too). */
  signal(kind: SignalKind, frame: string): void;
};

/**
 * How long to wait before subscribing again after a failure: the shared full-jitter backoff
 * (protocol/backoff.ts), its window doubling per failure in a row from 100 ms to 5 s. The jitter keeps the
 * shards of a live room (and the relays of a restarted room process) from resubscribing in one wave.
 */
export const UPSTREAM_RETRY = { baseMs: 100, capMs: 5_000 } as const satisfies BackoffOptions;

/** The delay before retry number `attempt` after failures in a row (0: the first). */
export type RetryDelay = (attempt: number) => number;

export class Upstream {
  private socket: WebSocket | undefined;
  private connecting = false;
  /** Failures in a row since the last welcome: the next retry's backoff attempt. */
  private failures = 0;
  private retry: ReturnType<typeof setTimeout> | undefined;
  /** Stopped (the shard no longer exists, or a test dropped it): no reconnect until `start`. */
  private stopped = true;

  constructor(
    private readonly link: RoomLink,
    private readonly roomId: string,
    private readonly shard: number,
    private readonly position: () => { epoch: string; lastSeq: number } | undefined,
    private readonly on: UpstreamEvents,
    private readonly retryDelay: RetryDelay = (attempt) => backoffDelay(attempt, UPSTREAM_RETRY),
  ) {}

  get open(): boolean {
    return this.socket !== undefined;
  }

  start(): void {
    this.stopped = false;
    if (!this.socket && !this.connecting && !this.retry) void this.connect();
  }

  /** Drops the subscription (and, unless `stop`, subscribes again at once from the same position). */
  drop(stop: boolean): void {
    this.stopped = stop;
    const socket = this.socket;
    this.socket = undefined;
    try {
      socket?.close(CLOSE.normal, "relay dropped its subscription");
    } catch {
      // already closed
    }
    if (!stop) this.schedule(0);
  }

  send(frame: RelayCountFrame): void {
    try {
      this.socket?.send(JSON.stringify(frame));
    } catch {
      // the close handler subscribes again
    }
  }

  private async connect(): Promise<void> {
    this.connecting = true;
    const at = this.position();
    const query = new URLSearchParams({ session: `relay-${this.shard}`, [RELAY_QUERY_PARAM]: String(this.shard), ...(at ? { epoch: at.epoch, lastSeq: String(at.lastSeq) } : {}) });
    let socket: WebSocket;
    try {
      socket = await this.link.socket(`/?${query}`, relayIdentity(this.shard));
    } catch (error) {
      console.error(`relay ${this.shard}: subscribing to ${this.roomId} failed`, error);
      this.connecting = false;
      return this.retryLater();
    }
    this.connecting = false;
    if (this.stopped) return void socket.close(CLOSE.normal, "stopped");
    this.socket = socket;
    socket.addEventListener("message", (event) => {
      if (this.socket === socket) this.frame(event.data);
    });
    const gone = () => {
      if (this.socket !== socket) return;
      this.socket = undefined;
      if (!this.stopped) this.retryLater();
    };
    socket.addEventListener("close", gone);
    socket.addEventListener("error", gone);
  }

  private frame(data: unknown): void {
    if (typeof data !== "string" || data === "pong") return;
    // Events go on as the room serialised them; only their seqs are read (by the window).
    if (data.startsWith('{"type":"events"')) return this.on.events(data);
    let parsed: unknown;
    try {
      parsed = JSON.parse(data);
    } catch {
      return;
    }
    const type = (parsed as { type?: unknown }).type;
    if (type === "welcome") {
      const welcome = parsed as { epoch: string; lastSeq: number; resume: { recovered: boolean } | null; pins?: Pin[] };
      this.failures = 0;
      this.on.welcome(welcome.epoch, welcome.lastSeq, welcome.resume?.recovered === true, welcome.pins ?? []);
    } else if (type === "relay.config") {
      const config = RelayConfigFrame.safeParse(parsed);
      if (config.success) this.on.config(config.data);
    } else if (type === "presence" || type === "typing") {
      this.on.signal(type, data);
    } else if (type === "error") {
      console.error(`relay ${this.shard}: the room said`, data);
    }
  }

  /** After a failure (the subscription could not open, or dropped): once more, after the backoff. */
  private retryLater(): void {
    if (this.retry || this.stopped) return;
    this.schedule(this.retryDelay(this.failures++));
  }

  private schedule(ms: number): void {
    if (this.retry || this.stopped) return;
    this.retry = setTimeout(() => {
      this.retry = undefined;
      if (!this.stopped && !this.socket) void this.connect();
    }, ms);
  }
}
