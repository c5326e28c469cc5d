/**
 * The client's side of presence over y-protocols awareness (PROTOCOL R72-R75): this client's own state (one
 * awareness clientID per room object), published after every welcome, renewed every `awarenessRenewMs` (stock
 * y-protocols peers drop a state not renewed for 30 s) and whenever the app or typing changes it; and every
 * state the room sends, grouped by user as `room.presence`. Encoded with lib0 only (no yjs): the bytes are
 * y-protocols', so apps that speak awareness (y-partykit, Yjs editors) see kaiwa users and kaiwa sees them.
 */
import { WIRE_LIMITS } from "../party/protocol/limits.ts";
import { awarenessFrame, decodeAwarenessMessage } from "../party/protocol/awareness.ts";
import type { Schedule, Timer } from "./timers.ts";

/** One connection's state as the room sends it: `user` is stamped by the room from the token (PROTOCOL R73). */
export type PresenceState = { clientID: number; user: { id: string; name: string }; typing?: boolean; [field: string]: unknown };

export type AwarenessPort = {
  /** Sends a binary frame if the socket is open and welcomed. */
  send(frame: Uint8Array): boolean;
  schedule: Schedule;
  /** The states changed (the room's flush, a drop, or this client's own change). */
  changed(): void;
  /** Whether this client publishes a state of its own (not for observers or a live room's viewers). */
  publishes: boolean;
};

export class ClientAwareness {
  /** A random 32-bit clientID, as Yjs picks one: unique enough among a room's states. */
  readonly clientID = crypto.getRandomValues(new Uint32Array(1))[0]!;
  #clock = 0;
  #fields: Record<string, unknown> = {};
  #typing = false;
  #typingTimer: Timer | null = null;
  #renewTimer: Timer | null = null;
  #live = false;
  readonly #states = new Map<number, PresenceState>();
  #byUser: Map<string, PresenceState[]> | null = null;

  constructor(private readonly port: AwarenessPort) {}

  /** Current states by user id (a user with two tabs has two); this client's own is included once the room echoed it. */
  get presence(): ReadonlyMap<string, readonly PresenceState[]> {
    if (!this.#byUser) {
      const byUser = new Map<string, PresenceState[]>();
      for (const state of this.#states.values()) {
        const list = byUser.get(state.user.id);
        if (list) list.push(state);
        else byUser.set(state.user.id, [state]);
      }
      this.#byUser = byUser;
    }
    return this.#byUser;
  }

  /** App-defined fields (a status such as "away", what the user views); `undefined` removes one. */
  setState(fields: Record<string, unknown>): void {
    const next = { ...this.#fields };
    for (const [key, value] of Object.entries(fields)) {
      if (key === "user" || key === "typing") continue; // the room's and typing()'s
      if (value === undefined) delete next[key];
      else next[key] = value;
    }
    this.#fields = next;
    this.#publish();
  }

  /** This user typed: `typing: true` until `typingTtlMs` after the last call, like the room's typing frame. */
  typing(): void {
    this.#typingTimer?.cancel();
    this.#typingTimer = this.port.schedule(() => {
      this.#typingTimer = null;
      this.#typing = false;
      this.#publish();
    }, WIRE_LIMITS.typingTtlMs);
    if (this.#typing) return;
    this.#typing = true;
    this.#publish();
  }

  /** A socket was welcomed: states come from its snapshot; ours goes out and is renewed while it lasts. */
  welcomed(): void {
    this.#live = true;
    this.#publish();
  }

  /** The socket is gone: nobody's state is known until the next welcome's snapshot. */
  dropped(): void {
    this.#live = false;
    this.#renewTimer?.cancel();
    this.#renewTimer = null;
    if (this.#states.size === 0) return;
    this.#states.clear();
    this.#byUser = null;
    this.port.changed();
  }

  closed(): void {
    this.dropped();
    this.#typingTimer?.cancel();
    this.#typingTimer = null;
  }

  /** A binary frame from the room: its states in order (the room is their one writer, so no clock checks). */
  frame(bytes: Uint8Array): boolean {
    const message = decodeAwarenessMessage(bytes, Number.MAX_SAFE_INTEGER);
    if (message.kind !== "awareness") return message.kind !== "malformed";
    for (const { clientID, state } of message.entries) {
      const user = state?.user as { id?: unknown; name?: unknown } | undefined;
      if (state === null || typeof user?.id !== "string") this.#states.delete(clientID);
      else this.#states.set(clientID, { ...state, clientID, user: { id: user.id, name: typeof user.name === "string" ? user.name : user.id } });
    }
    this.#byUser = null;
    this.port.changed();
    return true;
  }

  #publish(): void {
    if (!this.#live || !this.port.publishes) return;
    this.#clock++;
    const state = { ...this.#fields, ...(this.#typing ? { typing: true } : {}) };
    this.port.send(awarenessFrame([{ clientID: this.clientID, clock: this.#clock, json: JSON.stringify(state) }]));
    this.#renewTimer?.cancel();
    this.#renewTimer = this.port.schedule(() => {
      this.#renewTimer = null;
      this.#publish();
    }, WIRE_LIMITS.awarenessRenewMs);
  }
}
