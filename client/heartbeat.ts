import { realSchedule, type Schedule, type Timer } from "./timers.ts";

/**
 * Half-open socket detection. A socket whose peer vanished (laptop lid, NAT timeout) may never report
 * a close, so the client listens for silence: after `intervalMs` with nothing received it sends the
 * raw text `ping`; if nothing at all arrives within `timeoutMs` after that, the socket is presumed dead.
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
};

export class Heartbeat {
  readonly #options: HeartbeatOptions;
  readonly #schedule: Schedule;
  #timer: Timer | null = null;

  constructor(options: HeartbeatOptions) {
    this.#options = options;
    this.#schedule = options.schedule ?? realSchedule;
  }

  /** Call when the socket opens and on every frame received (any traffic proves the peer is alive). */
  touch(): void {
    this.#timer?.cancel();
    this.#timer = this.#schedule(() => this.#ping(), this.#options.intervalMs);
  }

  stop(): void {
    this.#timer?.cancel();
    this.#timer = null;
  }

  #ping(): void {
    this.#timer = this.#schedule(() => {
      this.#timer = null;
      this.#options.onTimeout();
    }, this.#options.timeoutMs);
    this.#options.sendPing();
  }
}
