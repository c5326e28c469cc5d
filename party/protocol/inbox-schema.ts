/**
 * The inbox protocol: one socket per user device to `/parties/inbox/<userId>` carries every one-to-one
 * conversation and the conversation list (see PROTOCOL §9). Shared by party/ and client/.
 * Room → inbox notifications (`Notification`) travel between actors over HTTP, never from clients.
 */
import * as z from "zod/mini";
import { WIRE_LIMITS } from "./limits.ts";
import { Ack, AttachmentRef, Author, ClientId, ErrorFrame, RoomEvent, Seq, UserId } from "./schema.ts";

/** Room ids as they appear in conversation lists: `dm:<a>:<b>` or a group/room id. */
export const RoomId = z.string().check(z.minLength(1), z.maxLength(WIRE_LIMITS.maxRoomIdChars), z.regex(/^[A-Za-z0-9_:-]+$/, "only letters, digits, _, - and :"));
export type RoomId = z.infer<typeof RoomId>;
const RequestId = z.string().check(z.minLength(1), z.maxLength(64));
const NonNegative = z.int().check(z.nonnegative());

// ---- Device → inbox.

/** A direct message to `to`; the inbox routes it to the DM room `dm:<a>:<b>` (ids sorted). */
export const DmCommand = z.object({
  type: z.literal("dm"),
  to: UserId,
  clientId: ClientId,
  n: z.int().check(z.positive()),
  text: z.string(),
  attachments: z.optional(z.array(AttachmentRef).check(z.maxLength(WIRE_LIMITS.maxAttachments))),
});
/** Mark everything up to `seq` in `room` read (PROTOCOL I6: only forward, never past the room's lastSeq). */
export const ReadCommand = z.object({ type: z.literal("read"), room: RoomId, seq: Seq, requestId: z.optional(RequestId) });
/** A page of the conversation list, newest activity first; `before` is the `cursor` of the last row seen. */
export const ListRequest = z.object({
  type: z.literal("list"),
  requestId: RequestId,
  before: z.optional(z.string().check(z.maxLength(200))),
  limit: z._default(z.int().check(z.positive(), z.maximum(WIRE_LIMITS.maxListLimit)), 50),
});
/** Events of `room` with seq > after (catch-up after a gap or an offline period). */
export const SyncRequest = z.object({
  type: z.literal("sync"),
  requestId: RequestId,
  room: RoomId,
  after: z.int().check(z.nonnegative()),
  limit: z._default(z.int().check(z.positive(), z.maximum(WIRE_LIMITS.maxHistoryLimit)), WIRE_LIMITS.maxHistoryLimit),
});
export const InboxClientFrame = z.discriminatedUnion("type", [DmCommand, ReadCommand, ListRequest, SyncRequest]);
export type InboxClientFrame = z.infer<typeof InboxClientFrame>;
export type DmCommand = z.infer<typeof DmCommand>;

// ---- What an inbox knows about one conversation.

export const Preview = z.object({ seq: Seq, ts: z.int(), author: Author, text: z.string().check(z.maxLength(WIRE_LIMITS.previewChars)), deleted: z.optional(z.boolean()) });
export type Preview = z.infer<typeof Preview>;
/** A room's state for one member, as the room computes it (room → inbox) and the list shows it. */
export const ConversationState = z.object({
  room: RoomId,
  /** `notices`: the user's own notices room, written only through the publish API (PROTOCOL R63). */
  kind: z.enum(["dm", "group", "notices"]),
  title: z.string(),
  /** For a DM: the other participant. */
  peer: z.optional(UserId),
  lastSeq: z.int().check(z.nonnegative()),
  lastTs: z.int(),
  preview: z.nullable(Preview),
  readSeq: z.int().check(z.nonnegative()),
  /** Other people's undeleted messages above readSeq (PROTOCOL I6: 0 ≤ unread ≤ lastSeq − readSeq). */
  unread: z.int().check(z.nonnegative()),
  /** PROTOCOL R27: unread messages that mention the user (absent: none). */
  mentions: z.optional(z.int().check(z.positive())),
  /** The user is no longer a member (removed or left); the row stays so the app can say so. */
  left: z.optional(z.boolean()),
});
/**
 * Schemas the client parses with add fields by spreading a shape (`{ ...A.shape, x }`), never with `z.extend`,
 * which brings ~0.3 KiB gzipped of zod into the client's browser bundle for the same object (PROTOCOL R76).
 */
export const Conversation = z.object({
  ...ConversationState.shape,
  /** Opaque paging cursor: pass as `before` to list the conversations after this one. */
  cursor: z.string(),
});
export type Conversation = z.infer<typeof Conversation>;

export const PresenceState = z.object({ user: UserId, online: z.boolean(), lastSeen: z.nullable(z.int()) });
export type PresenceState = z.infer<typeof PresenceState>;

// ---- Inbox → device.

export const InboxWelcome = z.object({
  type: z.literal("welcome"),
  user: z.object({ id: UserId, name: z.string(), role: z.optional(z.string()) }),
  bootId: z.string(),
  conversations: z.array(Conversation),
  hasMore: z.boolean(),
  totalUnread: NonNegative,
  /** Rooms that changed while the user had no device connected (the coalesced offline queue). */
  changedWhileAway: z.array(RoomId),
  contacts: z.array(PresenceState),
  serverTime: z.int(),
});
export const InboxAck = z.object({ ...Ack.shape, room: RoomId });
export type InboxAck = z.infer<typeof InboxAck>;
export const InboxAckFrame = z.object({ type: z.literal("ack"), acks: z.array(InboxAck) });
/** Live events of one room, in seq order; a device that sees a gap asks for `sync`. */
export const InboxEventsFrame = z.object({ type: z.literal("events"), room: RoomId, events: z.array(RoomEvent) });
export const ConversationFrame = z.object({ type: z.literal("conversation"), conversation: Conversation, totalUnread: NonNegative });
export const ListFrame = z.object({
  type: z.literal("list"),
  requestId: RequestId,
  conversations: z.array(Conversation),
  hasMore: z.boolean(),
  totalUnread: NonNegative,
});
export const SyncFrame = z.object({ type: z.literal("sync"), requestId: RequestId, room: RoomId, events: z.array(RoomEvent), lastSeq: NonNegative, hasMore: z.boolean() });
export const ReadFrame = z.object({ type: z.literal("read"), requestId: RequestId, room: RoomId, readSeq: NonNegative });
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

export function dmRoomId(a: string, b: string): string {
  return a < b ? `dm:${a}:${b}` : `dm:${b}:${a}`;
}

/** The cursor of a conversation in the list order (newest activity first, then room id). */
export function conversationCursor(lastTs: number, room: string): string {
  return `${String(lastTs).padStart(15, "0")}|${room}`;
}
export { ClientId };
