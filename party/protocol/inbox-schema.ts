/**
 * The inbox protocol: one socket per user device to `/parties/inbox/<userId>` carries every one-to-one
 * conversation and the conversation list (see PROTOCOL §9). Shared by party/ and client/.
 * Room → inbox notifications (`Notification`) travel between actors over HTTP, never from clients.
 */
import { z } from "zod";
import { LIMITS } from "./limits.ts";
import { Ack, Attachment, Author, ClientId, ErrorFrame, RoomEvent, Seq, UserId } from "./schema.ts";

/** Room ids as they appear in conversation lists: `dm:<a>:<b>` or a group/room id. */
export const RoomId = z.string().min(1).max(LIMITS.maxRoomIdChars).regex(/^[A-Za-z0-9_:-]+$/, "only letters, digits, _, - and :");
export type RoomId = z.infer<typeof RoomId>;
const RequestId = z.string().min(1).max(64);

// ---- Device → inbox.

/** A direct message to `to`; the inbox routes it to the DM room `dm:<a>:<b>` (ids sorted). */
export const DmCommand = z.object({
  type: z.literal("dm"),
  to: UserId,
  clientId: ClientId,
  n: z.number().int().positive(),
  text: z.string(),
  attachments: z.array(Attachment).max(LIMITS.maxAttachments).optional(),
});
/** Mark everything up to `seq` in `room` read (PROTOCOL I6: only forward, never past the room's lastSeq). */
export const ReadCommand = z.object({ type: z.literal("read"), room: RoomId, seq: Seq, requestId: RequestId.optional() });
/** A page of the conversation list, newest activity first; `before` is the `cursor` of the last row seen. */
export const ListRequest = z.object({
  type: z.literal("list"),
  requestId: RequestId,
  before: z.string().max(200).optional(),
  limit: z.number().int().positive().max(LIMITS.maxListLimit).default(50),
});
/** Events of `room` with seq > after (catch-up after a gap or an offline period). */
export const SyncRequest = z.object({
  type: z.literal("sync"),
  requestId: RequestId,
  room: RoomId,
  after: z.number().int().nonnegative(),
  limit: z.number().int().positive().max(LIMITS.maxHistoryLimit).default(LIMITS.maxHistoryLimit),
});
export const InboxClientFrame = z.discriminatedUnion("type", [DmCommand, ReadCommand, ListRequest, SyncRequest]);
export type InboxClientFrame = z.infer<typeof InboxClientFrame>;
export type DmCommand = z.infer<typeof DmCommand>;

// ---- What an inbox knows about one conversation.

export const Preview = z.object({ seq: Seq, ts: z.number().int(), author: Author, text: z.string().max(LIMITS.previewChars), deleted: z.boolean().optional() });
export type Preview = z.infer<typeof Preview>;
/** A room's state for one member, as the room computes it (room → inbox) and the list shows it. */
export const ConversationState = z.object({
  room: RoomId,
  kind: z.enum(["dm", "group"]),
  title: z.string(),
  /** For a DM: the other participant. */
  peer: UserId.optional(),
  lastSeq: z.number().int().nonnegative(),
  lastTs: z.number().int(),
  preview: Preview.nullable(),
  readSeq: z.number().int().nonnegative(),
  /** Other people's undeleted messages above readSeq (PROTOCOL I6: 0 ≤ unread ≤ lastSeq − readSeq). */
  unread: z.number().int().nonnegative(),
  /** PROTOCOL R27: unread messages that mention the user (absent: none). */
  mentions: z.number().int().positive().optional(),
  /** The user is no longer a member (removed or left); the row stays so the app can say so. */
  left: z.boolean().optional(),
});
export const Conversation = ConversationState.extend({
  /** Opaque paging cursor: pass as `before` to list the conversations after this one. */
  cursor: z.string(),
});
export type Conversation = z.infer<typeof Conversation>;

export const PresenceState = z.object({ user: UserId, online: z.boolean(), lastSeen: z.number().int().nullable() });
export type PresenceState = z.infer<typeof PresenceState>;

// ---- Inbox → device.

export const InboxWelcome = z.object({
  type: z.literal("welcome"),
  user: z.object({ id: UserId, name: z.string(), role: z.string().optional() }),
  bootId: z.string(),
  conversations: z.array(Conversation),
  hasMore: z.boolean(),
  totalUnread: z.number().int().nonnegative(),
  /** Rooms that changed while the user had no device connected (the coalesced offline queue). */
  changedWhileAway: z.array(RoomId),
  contacts: z.array(PresenceState),
  serverTime: z.number().int(),
});
export const InboxAck = Ack.extend({ room: RoomId });
export type InboxAck = z.infer<typeof InboxAck>;
export const InboxAckFrame = z.object({ type: z.literal("ack"), acks: z.array(InboxAck) });
/** Live events of one room, in seq order; a device that sees a gap asks for `sync`. */
export const InboxEventsFrame = z.object({ type: z.literal("events"), room: RoomId, events: z.array(RoomEvent) });
export const ConversationFrame = z.object({ type: z.literal("conversation"), conversation: Conversation, totalUnread: z.number().int().nonnegative() });
export const ListFrame = z.object({
  type: z.literal("list"),
  requestId: RequestId,
  conversations: z.array(Conversation),
  hasMore: z.boolean(),
  totalUnread: z.number().int().nonnegative(),
});
export const SyncFrame = z.object({ type: z.literal("sync"), requestId: RequestId, room: RoomId, events: z.array(RoomEvent), lastSeq: z.number().int().nonnegative(), hasMore: z.boolean() });
export const ReadFrame = z.object({ type: z.literal("read"), requestId: RequestId, room: RoomId, readSeq: z.number().int().nonnegative() });
export const PresenceFrame = z.object({ type: z.literal("presence"), ...PresenceState.shape });
export const InboxServerFrame = z.discriminatedUnion("type", [
  InboxWelcome,
  InboxAckFrame,
  InboxEventsFrame,
  ConversationFrame,
  ListFrame,
  SyncFrame,
  ReadFrame,
  PresenceFrame,
  ErrorFrame,
]);
export type InboxServerFrame = z.infer<typeof InboxServerFrame>;
export type InboxWelcome = z.infer<typeof InboxWelcome>;

// ---- Actor to actor (never accepted from a client: the worker refuses these routes from outside).

/** Room → inbox: everything pending for one user in one room, coalesced (one call per inbox per flush). */
export const Notification = ConversationState.extend({
  /** Committed events after the last ones this inbox confirmed, oldest first (may be a truncated tail). */
  events: z.array(RoomEvent),
});
export type Notification = z.infer<typeof Notification>;
export const NotifyBody = z.object({ notifications: z.array(Notification).min(1).max(64) });
export const PresenceBody = z.object({ user: UserId, online: z.boolean(), lastSeen: z.number().int().nullable(), at: z.number().int() });

/** Inbox → room: commands of the user's devices for one DM room, in order, answered after the durable write. */
export const RoomCommandsBody = z.object({
  items: z.array(z.object({ session: z.string().min(1).max(80), command: z.lazy(() => DmAsRoomCommand) })).min(1).max(LIMITS.maxCommandsPerFlush),
});
const DmAsRoomCommand = z.object({
  type: z.literal("send"),
  clientId: ClientId,
  n: z.number().int().positive(),
  text: z.string(),
  attachments: z.array(Attachment).max(LIMITS.maxAttachments).optional(),
});
export const RoomCommandResult = z.union([z.object({ ack: Ack }), z.object({ error: ErrorFrame })]);
export type RoomCommandResult = z.infer<typeof RoomCommandResult>;

export function dmRoomId(a: string, b: string): string {
  return a < b ? `dm:${a}:${b}` : `dm:${b}:${a}`;
}

/** The cursor of a conversation in the list order (newest activity first, then room id). */
export function conversationCursor(lastTs: number, room: string): string {
  return `${String(lastTs).padStart(15, "0")}|${room}`;
}
export { ClientId };
