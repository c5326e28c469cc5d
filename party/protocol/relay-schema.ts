/**
 * What a live room and its relay shards say to each other (PROTOCOL R51, R52): frames on the relay's one
 * socket to the room, and the body of the HTTP route viewers' commands take. Never seen by clients: the room
 * accepts these only from a socket its own relay opened (`context.parties`, past the worker) or a request
 * with the actor header.
 */
import * as z from "zod/mini";
import { LIMITS } from "./limits.ts";
import { Command, SessionId, UserId } from "./schema.ts";

/**
 * Room → relay, after the relay's welcome and whenever the shard count or the hosts change: where viewers
 * belong, who is banned now, and the hosts (they belong on the room itself, PROTOCOL R51; absent from an
 * older room: none).
 */
export const RelayConfigFrame = z.object({
  type: z.literal("relay.config"),
  shards: z.int().check(z.nonnegative()),
  bans: z.array(z.object({ user: UserId, until: z.int() })),
  hosts: z.optional(z.array(UserId)),
});
export type RelayConfigFrame = z.infer<typeof RelayConfigFrame>;

/** Relay → room: how many viewer sockets it holds now (sent when it changes, at most once a second). */
export const RelayCountFrame = z.object({ type: z.literal("relay.count"), viewers: z.int().check(z.nonnegative()) });
export type RelayCountFrame = z.infer<typeof RelayCountFrame>;

/** `POST /parties/room/<live id>/relayed` (actor route): one viewer session's commands, in order (PROTOCOL R52). */
export const RelayedBody = z.object({
  session: SessionId,
  commands: z.array(Command).check(z.minLength(1), z.maxLength(LIMITS.maxCommandsPerFrame)),
});
export type RelayedBody = z.infer<typeof RelayedBody>;

/** The query a relay's socket to its room carries (with the actor header): which shard it is. */
export const RELAY_QUERY_PARAM = "relay";
