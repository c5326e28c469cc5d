/**
 * The connection lifecycle as a string enum changed by one function, `transition`, which emits
 * `{ previous, current, reason }` (the habit of ably-chat-js room-status.ts). Nothing else assigns status.
 *
 *   idle ──► connecting ──► open ──► reconnecting ──► open ...
 *                 │           │            │
 *                 └───────────┴────────────┴──► auth_failed (4001: app fetches a token, calls reconnect())
 *                                              └──► closed (app close(), or a non-retryable 4xxx)
 */
export type Status = "idle" | "connecting" | "open" | "reconnecting" | "auth_failed" | "closed";

export type StatusChange = { previous: Status; current: Status; reason: string };

/** States from which the client will not connect again unless the app calls reconnect(). */
export function isStopped(status: Status): boolean {
  return status === "idle" || status === "auth_failed" || status === "closed";
}

export class StatusMachine {
  #current: Status = "idle";
  #reason = "created";
  readonly #onChange: (change: StatusChange) => void;

  constructor(onChange: (change: StatusChange) => void) {
    this.#onChange = onChange;
  }

  get current(): Status {
    return this.#current;
  }

  /** Why the client is in its current state (the reason of the last transition). */
  get reason(): string {
    return this.#reason;
  }

  /**
   * Moves to `next` and emits the change. Staying in the same state emits nothing (e.g. a second failed
   * attempt while already reconnecting), so listeners see only real changes. Returns whether it moved.
   */
  transition(next: Status, reason: string): boolean {
    const previous = this.#current;
    if (previous === next) return false;
    this.#current = next;
    this.#reason = reason;
    this.#onChange({ previous, current: next, reason });
    return true;
  }
}
