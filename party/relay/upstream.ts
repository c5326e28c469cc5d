/**
 * A relay shard's one subscription to its live room (PROTOCOL R52): a socket opened as an actor (through
 * `context.parties`, or over the network with a service token: relay/room-link.ts, PROTOCOL R55), resumed by (epoch, lastSeq)
 * exactly like a client's (PROTOCOL I5): a relay that reconnects, or fell behind, gets every event after its
 * position once and in order, or a `recovered: false` welcome after which its viewers resync.
 */
import { RELAY_QUERY_PARAM, RelayConfigFrame, type RelayCountFrame } from "../protocol/index.ts";
import { relayIdentity, type RoomLink } from "./room-link.ts";

export type UpstreamEvents = {
  /** The room's welcome: where the stream is, and whether the relay's position was recovered. */
  welcome(epoch: string, lastSeq: number, recovered: boolean): void;
  /** One `events` frame, as the room serialised it. */
  events(frame: string): void;
  config(frame: RelayConfigFrame): void;
};

/** How long to wait before subscribing again after the socket dropped: doubled per failure, capped. */
const RETRY_MIN_MS = 100;
const RETRY_MAX_MS = 5_000;

export class Upstream {
  private socket: WebSocket | undefined;
  private connecting = false;
  private retryMs = RETRY_MIN_MS;
  private retry: ReturnType<typeof setTimeout> | undefined;
  /** Stopped (the shard no longer exists, or a test dropped it): no reconnect until `start`. */
  private stopped = true;

  constructor(
    private readonly link: RoomLink,
    private readonly roomId: string,
    private readonly shard: number,
    private readonly position: () => { epoch: string; lastSeq: number } | undefined,
    private readonly on: UpstreamEvents,
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
      socket?.close(1000, "relay dropped its subscription");
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
      return this.schedule(this.retryMs);
    }
    this.connecting = false;
    if (this.stopped) return void socket.close(1000, "stopped");
    this.socket = socket;
    socket.addEventListener("message", (event) => {
      if (this.socket === socket) this.frame(event.data);
    });
    const gone = () => {
      if (this.socket !== socket) return;
      this.socket = undefined;
      if (!this.stopped) this.schedule(this.retryMs);
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
      const welcome = parsed as { epoch: string; lastSeq: number; resume: { recovered: boolean } | null };
      this.retryMs = RETRY_MIN_MS;
      this.on.welcome(welcome.epoch, welcome.lastSeq, welcome.resume?.recovered === true);
    } else if (type === "relay.config") {
      const config = RelayConfigFrame.safeParse(parsed);
      if (config.success) this.on.config(config.data);
    } else if (type === "error") {
      console.error(`relay ${this.shard}: the room said`, data);
    }
  }

  private schedule(ms: number): void {
    if (this.retry || this.stopped) return;
    this.retry = setTimeout(() => {
      this.retry = undefined;
      if (!this.stopped && !this.socket) void this.connect();
    }, ms);
    this.retryMs = Math.min(RETRY_MAX_MS, this.retryMs * 2);
  }
}
