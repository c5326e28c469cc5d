/**
 * Tokens that expire while their socket is open (PROTOCOL R19). At the token's `exp` the socket is told
 * (`session_expired`, retryable: reconnect with a fresh token) and, if it is still open a grace period
 * later, closed with 4002. Any frame it sends after `exp` is refused the same way at once, so an expired
 * token never posts, even if the timer was lost (a hibernated room keeps no timers). One timer for the
 * whole room: the room's storage alarm (which, unlike a timer, neither keeps a room awake nor dies with a
 * hibernated one), over a deadline queue; connection state carries `exp`. Entries of closed sockets are
 * dropped when the queue outgrows the open sockets, so it stays bounded by them.
 *
 * Shared by the room (room/wiring.ts makes one over the room's connection state) and the relay
 * (relay/expiry.ts, PROTOCOL R56): it reads only a connection's `state.exp`.
 */
import type * as Party from "partykit/server";
import { CLOSE, LIMITS } from "../protocol/index.ts";
import { errorFrame } from "../protocol/error-frame.ts";
import { DeadlineQueue } from "../core/deadline-queue.ts";
import { safeSend } from "./sockets.ts";

/** What token expiry reads of a connection's state: when its token expires, ms (PROTOCOL R19). */
export type ExpiryState = { exp?: number };

export interface ExpiryHost<S extends ExpiryState> {
  readonly room: Party.Room;
  /** Wake the actor at `at` (ms): the room's one alarm (adapters/alarm-clock.ts), a relay's timer (relay/expiry.ts). */
  wakeAt(at: number): void;
  /** Closes the socket and drops whatever it still has queued (PROTOCOL I4). */
  cutOff(conn: Party.Connection<S>, code: number, reason: string): void;
}

type Due = { id: string; step: "tell" | "close" };

/** `S`: the actor's connection state (the room's or a relay viewer's), so `cutOff` gets the actor's own connection type. */
export class TokenExpiry<S extends ExpiryState> {
  private deadlines = new DeadlineQueue<Due>();
  /** Past this many entries, those of closed sockets are dropped (amortised: the bound doubles with the open ones). */
  private compactAt = 1_000;

  constructor(
    private readonly host: ExpiryHost<S>,
    private readonly now: () => number = Date.now,
  ) {}

  /** A socket was admitted (or found after a wake): watch its token. */
  watch(conn: Party.Connection<S>): void {
    const exp = conn.state?.exp;
    if (exp === undefined) return;
    this.deadlines.push(exp, { id: conn.id, step: "tell" });
    if (this.deadlines.size > this.compactAt) {
      this.compact();
      this.compactAt = 2 * this.deadlines.size + 1_000;
    }
    this.host.wakeAt(exp);
  }

  /** The room's alarm fired (or it woke after hibernating): tell and close whatever is due, wake for the next. */
  fire(): void {
    for (const { id, step } of this.deadlines.due(this.now())) {
      const conn = this.host.room.getConnection<S>(id);
      if (!conn?.state?.exp) continue; // closed meanwhile
      if (step === "close") {
        this.host.cutOff(conn, CLOSE.sessionExpired, "session_expired");
      } else {
        safeSend(conn, JSON.stringify(errorFrame("session_expired", { message: `Your token expired; this socket closes in ${LIMITS.expiredTokenGraceMs / 1000} s. Reconnect with a fresh token.` })));
        this.deadlines.push(conn.state.exp + LIMITS.expiredTokenGraceMs, { id, step: "close" });
      }
    }
    const next = this.deadlines.next;
    if (next !== undefined) this.host.wakeAt(next);
  }

  /** After a wake from hibernation (nothing in memory): watch every open socket again. */
  reindex(): void {
    this.deadlines = new DeadlineQueue<Due>();
    for (const conn of this.host.room.getConnections<S>()) this.watch(conn);
  }

  /** Whether `state`'s token has expired: its frames are refused (checked on every frame, cheap). */
  expired(state: S): boolean {
    return state.exp !== undefined && state.exp <= this.now();
  }

  /** The socket's token expired: the typed frame, then the close, so the client reconnects with a fresh one. */
  end(conn: Party.Connection<S>, ref?: string): void {
    safeSend(conn, JSON.stringify(errorFrame("session_expired", ref ? { ref } : {})));
    this.host.cutOff(conn, CLOSE.sessionExpired, "session_expired");
  }

  /** Keeps only the open sockets' deadlines (each socket's next step). */
  private compact(): void {
    const kept = new DeadlineQueue<Due>();
    for (const conn of this.host.room.getConnections<S>()) {
      const exp = conn.state?.exp;
      if (exp !== undefined) kept.push(exp <= this.now() ? exp + LIMITS.expiredTokenGraceMs : exp, { id: conn.id, step: exp <= this.now() ? "close" : "tell" });
    }
    this.deadlines = kept;
  }
}
