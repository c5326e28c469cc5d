/** Types the room's parts share: connection state, where answers go, and what waits for the durable write. */
import type * as Party from "partykit/server";
import type { Ack, ErrorFrame, Identity } from "../protocol/index.ts";
import type { Accepted } from "../core/room-core.ts";

/** Per-connection facts live in connection state so they survive hibernation. */
/** `exp`: when the socket's token expires, ms (PROTOCOL R19). */
/** `relay`: the socket is the room's relay shard k (PROTOCOL R52); it is also an observer (no presence, not a member). */
export type ConnState = { user: Identity; session: string; observer?: true; exp?: number; relay?: number; viewers?: number };
export type Conn = Party.Connection<ConnState>;

/**
 * Where a command's answer goes: a socket (room/socket-reply.ts) or one command of an inbox's HTTP batch
 * (room/http-reply.ts). The room answers through this and never asks which one it has: where the two
 * differ (flow control, cutting a sender off, a failed release), the reply itself decides.
 */
export interface Reply {
  /** The socket's id, or an id no socket has: per-socket bookkeeping (resync, catch-up) keys on it. */
  readonly id: string;
  /**
   * Whether the room bounds this sender's commands itself (PROTOCOL R18: its rate and its pending count,
   * kept by `id`): a socket's. An HTTP batch's are bounded by the inbox that sends it.
   */
  readonly flowControlled: boolean;
  acks(acks: Ack[]): void;
  error(frame: ErrorFrame): void;
  /** A member's read position, now durable (PROTOCOL I6). */
  read(user: string, seq: number, requestId: string | undefined): void;
  /**
   * Nothing this sender sent after this command may be decided (a resync, a rate limit; PROTOCOL I4,
   * PROTOCOL R3, PROTOCOL R18): a socket is closed with `code` and its queued frames dropped, so the client resends in order.
   * Over HTTP nothing to do: the caller got the error and resends itself.
   */
  cutOff(code: number, reason: string): void;
  /**
   * The durable batch holding this answer failed to release (PROTOCOL R3a). A socket gets nothing here:
   * every socket resyncs and its resend is answered from dedupe (PROTOCOL I3). An HTTP caller has no
   * resync, so it is answered now with the durable result.
   */
  releaseFailed(item: Answered): void;
}

/** A pending item answered through a Reply (every kind but the admin API's). */
export type Answered = Exclude<Pending, { kind: "admin" }>;

/** The ack an answered command or resend carries. */
export function ackOf(item: Exclude<Answered, { kind: "read" }>): Ack {
  return item.kind === "command" ? item.accepted.ack : item.ack;
}

/** What waits in the commit pipeline: answered only once its batch is durable (PROTOCOL I2). */
export type Pending =
  /** An accepted command; `at` is when it arrived (the ack latency histogram). */
  | { kind: "command"; reply: Reply; accepted: Accepted; at: number }
  /** A resend whose original is not yet durable: the original ack, released with it (PROTOCOL I3). */
  | { kind: "resend"; reply: Reply; ack: Ack }
  /** A member's read position (PROTOCOL I6). */
  | { kind: "read"; reply: Reply; user: string; seq: number; requestId?: string }
  /** An operator's action from the admin API: no socket, `settle` answers it. */
  | { kind: "admin"; accepted: Accepted | undefined; ack: Ack; settle(error?: unknown): void };

/** The accepted command a pending item carries, if any. */
export function acceptedOf(item: Pending): Accepted | undefined {
  return item.kind === "command" || item.kind === "admin" ? item.accepted : undefined;
}

/** What the room counts about commands, shared by the parts that decide and write them (stats route). */
export type CommandCounters = { accepted: number; duplicates: number; rejected: Record<string, number>; storageFailures: number; releaseFailures: number };
