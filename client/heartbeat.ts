import { realSchedule, type Schedule, type Timer } from "./timers.ts";

/**
 * Half-open socket detection and keepalive (PROTOCOL R12). A socket whose peer vanished (laptop lid, NAT
 * timeout) may never report a close, so the client listens for silence: after `intervalMs` with nothing
 * received it sends the raw text `ping`; if nothing at all arrives within `timeoutMs` after that, the
 * socket is presumed dead.
 *
 * The other direction: the room closes a socket it has not heard from for a while as one that stopped
 * reading (PROTOCOL R80), and a client that only reads in a busy room receives all the time, so the ping
 * above would never go out. So the client also pings when it has sent nothing at all for 1.5 × `intervalMs`,
 * looked at every `intervalMs / 2`: it is heard from at least every 2 × `intervalMs` (40 s by default, below
 * the room's 60 s), however much it receives. One timer per half interval, not per frame sent (a send only
 * notes the time). A quiet room's sockets already ping every `intervalMs` on silence, which counts as sent,
 * so the keepalive adds no frames there (and wakes no hibernated room more often).
 *
 * The room answers `pong` itself: PartyKit 0.0.115 does not expose the Durable Object's
 * setWebSocketAutoResponse. On a platform with auto-response the same text would be answered without
 * waking the actor, so the client protocol need not change.
 */
export type HeartbeatOptions = {
  intervalMs: number;
  timeoutMs: number;
  sendPing: () => void;
  onTimeout: () => void;
  schedule?: Schedule;
  /** The clock of the keepalive (default Date.now), so tests drive it with their fake schedule. */
  now?: () => number;
};

export class Heartbeat {
  readonly #options: HeartbeatOptions;
  readonly #schedule: Schedule;
  #timer: Timer | null = null;
  /** The keepalive tick (every `intervalMs / 2` while the socket is open). */
  #tick: Timer | null = null;
  /** When the last frame went out (or the socket opened). */
  #lastSent = 0;

  constructor(options: HeartbeatOptions) {
    this.#options = options;
    this.#schedule = options.schedule ?? realSchedule;
  }

  /** Call when the socket opens and on every frame received (any traffic proves the peer is alive). */
  touch(): void {
    this.#timer?.cancel();
    this.#timer = this.#schedule(() => this.#ping(), this.#options.intervalMs);
    if (!this.#tick) {
      this.#lastSent = this.#now();
      this.#armTick();
    }
  }

  /** Call on every frame sent: the keepalive then has nothing to do for a while. */
  sent(): void {
    this.#lastSent = this.#now();
  }

  stop(): void {
    this.#timer?.cancel();
    this.#timer = null;
    this.#tick?.cancel();
    this.#tick = null;
  }

  #ping(): void {
    this.#timer = this.#schedule(() => {
      this.#timer = null;
      this.#options.onTimeout();
    }, this.#options.timeoutMs);
    this.sent();
    this.#options.sendPing();
  }

  #armTick(): void {
    const { intervalMs } = this.#options;
    this.#tick = this.#schedule(() => {
      if (this.#now() - this.#lastSent >= 1.5 * intervalMs) {
        this.sent();
        this.#options.sendPing();
      }
      this.#armTick();
    }, intervalMs / 2);
  }

  #now(): number {
    return this.#options.now ? this.#options.now() : Date.now();
  }
}
