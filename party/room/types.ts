/** Types the room shell (party/room.ts) shares with its parts (room-members.ts). */
import type * as Party from "partykit/server";
import type { Ack, Identity } from "../protocol/index.ts";
import type { Accepted } from "../core/room-core.ts";
import type { ItemReply } from "./http-reply.ts";

/** Per-connection facts live in connection state so they survive hibernation. */
export type ConnState = { user: Identity; session: string; observer?: true };
export type Conn = Party.Connection<ConnState>;
/** Where a command's answer goes: a socket, or one command of an inbox's HTTP batch. */
export type Replier = Conn | ItemReply;
/**
 * What waits in the commit pipeline: an accepted command, the ack of a resend whose original is not yet
 * durable, a member's read position (I6), or an operator's action (no socket: `settle` answers it).
 */
export type Pending = {
  conn?: Replier;
  accepted?: Accepted;
  ack?: Ack;
  read?: { user: string; seq: number };
  requestId?: string;
  /** When the command arrived, for the ack latency histogram. */
  at?: number;
  settle?: (error?: unknown) => void;
};
