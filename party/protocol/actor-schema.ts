/**
 * What actors send each other over HTTP (PROTOCOL §9): room → inbox notifications and presence, inbox → room
 * commands. Never accepted from a client (the worker refuses these routes from outside), and apart from the
 * client's schemas so that no client bundle carries them.
 */
import * as z from "zod/mini";
import { LIMITS } from "./limits.ts";
import { ConversationState } from "./inbox-schema.ts";
import { Ack, AttachmentRef, ClientId, ErrorFrame, RoomEvent, UserId } from "./schema.ts";

/** Room → inbox: everything pending for one user in one room, coalesced (one call per inbox per flush). */
export const Notification = z.extend(ConversationState, {
  /** Committed events after the last ones this inbox confirmed, oldest first (may be a truncated tail). */
  events: z.array(RoomEvent),
});
export type Notification = z.infer<typeof Notification>;
export const NotifyBody = z.object({ notifications: z.array(Notification).check(z.minLength(1), z.maxLength(64)) });
export const PresenceBody = z.object({ user: UserId, online: z.boolean(), lastSeen: z.nullable(z.int()), at: z.int() });

/** Inbox → room: commands of the user's devices for one DM room, in order, answered after the durable write. */
export const RoomCommandsBody = z.object({
  items: z
    .array(z.object({ session: z.string().check(z.minLength(1), z.maxLength(80)), command: z.lazy(() => DmAsRoomCommand) }))
    .check(z.minLength(1), z.maxLength(LIMITS.maxCommandsPerFlush)),
});
const DmAsRoomCommand = z.object({
  type: z.literal("send"),
  clientId: ClientId,
  n: z.int().check(z.positive()),
  text: z.string(),
  attachments: z.optional(z.array(AttachmentRef).check(z.maxLength(LIMITS.maxAttachments))),
});
export const RoomCommandResult = z.union([z.object({ ack: Ack }), z.object({ error: ErrorFrame })]);
export type RoomCommandResult = z.infer<typeof RoomCommandResult>;

