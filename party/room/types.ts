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
 * (room/http-reply.ts). The room answers through this and never asks which one it has.
 */
export interface Reply {
  /** The socket's id, or an id no socket has: per-socket bookkeeping (resync, catch-up) keys on it. */
  readonly id: string;
  /** The socket to close when its commands must be resent in order (PROTOCOL R3); none for HTTP, whose caller resends. */
  readonly socket: Conn | undefined;
  acks(acks: Ack[]): void;
  error(frame: ErrorFrame): void;
  /** A member's read position, now durable (PROTOCOL I6). */
  read(user: string, seq: number, requestId: string | undefined): void;
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
