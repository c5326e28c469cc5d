/**
 * Every frame of the kaiwa protocol as zod schemas, shared by party/ and client/.
 * Inbound frames are parsed here at the boundary (PROTOCOL I8); outbound frames are built with
 * `satisfies ServerFrame` so a change here breaks the build wherever a frame is made.
 */
import { z } from "zod";
import { ERROR_CODES, type ErrorCode } from "./codes.ts";
import { LIMITS } from "./limits.ts";

/** Ids are plain so they can sit inside storage keys and room names without escaping. */
export const idString = (max: number) =>
  z.string().min(1).max(max).regex(/^[A-Za-z0-9_-]+$/, "only letters, digits, _ and -");

export const UserId = idString(LIMITS.maxUserIdChars);
export const ClientId = idString(LIMITS.maxClientIdChars);
export const SessionId = idString(LIMITS.maxSessionIdChars);
export const Seq = z.number().int().positive();

/** Reserved for the media issue: a stored file referenced from a message. */
export const Attachment = z.object({
  id: z.string().min(1).max(128),
  url: z.string().url().max(2048),
  name: z.string().max(256),
  mime: z.string().max(128),
  size: z.number().int().nonnegative(),
});
export type Attachment = z.infer<typeof Attachment>;

/** Who did something, stamped by the room from the verified token (PROTOCOL I7), never read from a frame. */
export const Author = z.object({ id: UserId, name: z.string().max(LIMITS.maxDisplayNameChars) });
export type Author = z.infer<typeof Author>;

// ---- Client → room commands. Each carries the session's next number `n` (PROTOCOL I4) and a clientId (PROTOCOL I3).

const commandBase = { clientId: ClientId, n: z.number().int().positive() };

export const SendCommand = z.object({
  type: z.literal("send"),
  ...commandBase,
  text: z.string(),
  attachments: z.array(Attachment).max(LIMITS.maxAttachments).optional(),
});
export const EditCommand = z.object({ type: z.literal("edit"), ...commandBase, target: Seq, text: z.string() });
export const DeleteCommand = z.object({ type: z.literal("delete"), ...commandBase, target: Seq });
export const HistoryRequest = z.object({
  type: z.literal("history"),
  requestId: z.string().min(1).max(64),
  /** Return events with seq < before (default: after the latest). */
  before: Seq.optional(),
  limit: z.number().int().positive().max(LIMITS.maxHistoryLimit).default(50),
});

// ---- Group membership commands (groups `g:<id>`): sequenced like messages (PROTOCOL I1-I4), decided by room roles.

export const Role = z.enum(["owner", "moderator", "member"]);
export type Role = z.infer<typeof Role>;
const Title = z.string().trim().min(1).max(LIMITS.maxTitleChars);
export const GroupCreateCommand = z.object({
  type: z.literal("group.create"),
  ...commandBase,
  title: Title,
  /** Invited members besides the creator (who becomes owner). */
  members: z.array(UserId).max(LIMITS.maxGroupMembers),
});
export const GroupRenameCommand = z.object({ type: z.literal("group.rename"), ...commandBase, title: Title });
export const MemberAddCommand = z.object({ type: z.literal("member.add"), ...commandBase, user: UserId });
export const MemberRemoveCommand = z.object({ type: z.literal("member.remove"), ...commandBase, user: UserId });
export const MemberRoleCommand = z.object({ type: z.literal("member.role"), ...commandBase, user: UserId, role: Role });
export const GroupLeaveCommand = z.object({ type: z.literal("group.leave"), ...commandBase });
const membershipCommands = [GroupCreateCommand, GroupRenameCommand, MemberAddCommand, MemberRemoveCommand, MemberRoleCommand, GroupLeaveCommand] as const;
export const MembershipCommand = z.discriminatedUnion("type", [...membershipCommands]);
export type MembershipCommand = z.infer<typeof MembershipCommand>;

/** Ephemeral member signals: never stored per change, batched out at a bounded rate (PROTOCOL R14, R15). */
export const ReadSignal = z.object({ type: z.literal("read"), seq: Seq, requestId: z.string().min(1).max(64).optional() });
export const TypingSignal = z.object({ type: z.literal("typing") });
export type ReadSignal = z.infer<typeof ReadSignal>;

export const Command = z.discriminatedUnion("type", [SendCommand, EditCommand, DeleteCommand, ...membershipCommands]);
export type Command = z.infer<typeof Command>;
/**
 * Several commands in one frame, in order (PROTOCOL R17). Each element is checked and answered exactly as if it
 * had come in its own frame, so one bad element gets its own `bad_frame` and the others still go through.
 * Why: a socket's frames are each an event in the room's runtime; a client with many commands ready at
 * once (a burst, or the resend after a reconnect) pays that cost once instead of per command.
 */
export const CommandBatch = z.object({ type: z.literal("batch"), commands: z.array(z.unknown()).min(1).max(LIMITS.maxCommandsPerFrame) });
export type CommandBatch = z.infer<typeof CommandBatch>;
export const ClientFrame = z.discriminatedUnion("type", [SendCommand, EditCommand, DeleteCommand, ...membershipCommands, HistoryRequest, ReadSignal, TypingSignal, CommandBatch]);
export type ClientFrame = z.infer<typeof ClientFrame>;
export type HistoryRequest = z.infer<typeof HistoryRequest>;

// ---- Events in the room log. Every event has its own seq (PROTOCOL I1) and the server's timestamp.

const eventBase = { seq: Seq, ts: z.number().int(), author: Author, clientId: ClientId };

/** A message as stored: history shows its latest state (edited text, or a tombstone once deleted). */
export const MessageEvent = z.object({
  kind: z.literal("message"),
  ...eventBase,
  text: z.string(),
  attachments: z.array(Attachment).optional(),
  /** Set when the message was edited: the seq of the latest edit event. */
  editedBy: Seq.optional(),
  /** Set when deleted: the seq of the delete event. Text and attachments are then cleared. */
  deletedBy: Seq.optional(),
  /** Live rooms: the author is one of the room's hosts (the artist) when it was sent (PROTOCOL R50). */
  host: z.literal(true).optional(),
});
export const EditEvent = z.object({ kind: z.literal("edit"), ...eventBase, target: Seq, text: z.string() });
export const DeleteEvent = z.object({ kind: z.literal("delete"), ...eventBase, target: Seq });
/** A group was created (with its first members) or renamed. */
export const GroupEvent = z.object({
  kind: z.literal("group"),
  ...eventBase,
  action: z.enum(["create", "rename"]),
  title: z.string(),
  members: z.array(z.object({ id: UserId, role: Role })).optional(),
});
/** A membership change: `user` was added, removed, left, or got `role`. */
export const MemberEvent = z.object({
  kind: z.literal("member"),
  ...eventBase,
  action: z.enum(["add", "remove", "leave", "role"]),
  user: UserId,
  role: Role.optional(),
});
export type GroupEvent = z.infer<typeof GroupEvent>;
export type MemberEvent = z.infer<typeof MemberEvent>;
/** An operator's notice to the room: sequenced like a message (PROTOCOL I1), so resume and history carry it. */
export const AnnouncementEvent = z.object({ kind: z.literal("announcement"), ...eventBase, text: z.string() });
/** An operator muted/banned (or lifted that from) a user in this room; `until` is the expiry in ms since the epoch. */
export const ModerationEvent = z.object({
  kind: z.literal("moderation"),
  ...eventBase,
  action: z.enum(["ban", "unban", "mute", "unmute"]),
  user: UserId,
  until: z.number().int().optional(),
});
export const RoomEvent = z.discriminatedUnion("kind", [MessageEvent, EditEvent, DeleteEvent, GroupEvent, MemberEvent, AnnouncementEvent, ModerationEvent]);
export type AnnouncementEvent = z.infer<typeof AnnouncementEvent>;
export type ModerationEvent = z.infer<typeof ModerationEvent>;
export type MessageEvent = z.infer<typeof MessageEvent>;
export type EditEvent = z.infer<typeof EditEvent>;
export type DeleteEvent = z.infer<typeof DeleteEvent>;
export type RoomEvent = z.infer<typeof RoomEvent>;

// ---- Room → client frames.

export const ErrorFrame = z.object({
  type: z.literal("error"),
  code: z.enum(ERROR_CODES as [ErrorCode, ...ErrorCode[]]),
  message: z.string(),
  retryable: z.boolean(),
  /** The clientId or requestId of the frame this answers, when there was one. */
  ref: z.string().optional(),
  /** For out_of_order: the number the room expects next. For slow_mode: ms to wait. */
  expected: z.number().int().optional(),
  retryAfterMs: z.number().int().optional(),
});
export type ErrorFrame = z.infer<typeof ErrorFrame>;

export const ResumeResult = z.union([
  z.object({ recovered: z.literal(true) }),
  /** epoch_changed: the room's storage was lost or reset; too_far_behind: more than resumeMaxEvents to replay;
   * ahead_of_room: the client claims a seq the room never committed (the stream diverged). */
  z.object({ recovered: z.literal(false), reason: z.enum(["epoch_changed", "too_far_behind", "ahead_of_room"]) }),
]);
export type ResumeResult = z.infer<typeof ResumeResult>;

export const WelcomeFrame = z.object({
  type: z.literal("welcome"),
  room: z.string(),
  epoch: z.string(),
  /** Committed position at the moment of joining; replayed events (if any) end here. */
  lastSeq: z.number().int().nonnegative(),
  /** Changes whenever the room's process starts; lets tests and operators see restarts. */
  bootId: z.string(),
  user: z.object({ id: UserId, name: z.string(), role: z.string().optional() }),
  /** Highest command number this session has had accepted; the client resends above it. */
  sessionLastN: z.number().int().nonnegative(),
  /** null when the client did not ask to resume (a first connect). */
  resume: ResumeResult.nullable(),
  /**
   * Frame types this room accepts beyond the first protocol ("batch": PROTOCOL R17). A client uses one only when
   * the room lists it, so a newer client still talks to an older room during a rolling deploy.
   */
  accepts: z.array(z.string()).optional(),
  serverTime: z.number().int(),
  /** Rooms with members (groups and DMs): who belongs, their roles, read positions, who is here and typing. */
  members: z
    .object({
      kind: z.enum(["dm", "group"]),
      title: z.string(),
      list: z.array(z.object({ id: UserId, role: Role })),
      reads: z.record(z.string(), z.number().int().nonnegative()),
      present: z.array(UserId),
      typing: z.array(UserId),
    })
    .optional(),
});
export type WelcomeFrame = z.infer<typeof WelcomeFrame>;

/** The durable answer to a command: its seq and timestamp. `duplicate` marks the original ack re-sent (PROTOCOL I3). */
export const Ack = z.object({ clientId: ClientId, seq: Seq, ts: z.number().int(), duplicate: z.boolean().optional() });
export type Ack = z.infer<typeof Ack>;
export const AckFrame = z.object({ type: z.literal("ack"), acks: z.array(Ack) });
export const EventsFrame = z.object({
  type: z.literal("events"),
  events: z.array(RoomEvent),
  /** True when these events are the resume replay rather than live traffic. */
  replay: z.boolean().optional(),
});
export const HistoryFrame = z.object({
  type: z.literal("history"),
  requestId: z.string(),
  events: z.array(RoomEvent),
  /** True when older events exist before the first one returned. */
  hasMore: z.boolean(),
});
export type AckFrame = z.infer<typeof AckFrame>;
export type EventsFrame = z.infer<typeof EventsFrame>;
export type HistoryFrame = z.infer<typeof HistoryFrame>;

/** Members' read positions that changed in the last window (PROTOCOL I6); `delivered`: DM inboxes that have a seq. */
export const ReceiptsFrame = z.object({
  type: z.literal("receipts"),
  reads: z.record(z.string(), z.number().int().nonnegative()),
  delivered: z.record(z.string(), z.number().int().nonnegative()).optional(),
  requestId: z.string().optional(),
});
/**
 * Who holds a socket to the room: changes in the last window, and the occupancy. `listed: false`: an open
 * room above `presenceListMaxUsers` present users sends the count alone (lists empty).
 */
export const RoomPresenceFrame = z.object({
  type: z.literal("presence"),
  joined: z.array(UserId),
  left: z.array(UserId),
  count: z.number().int().nonnegative(),
  listed: z.literal(false).optional(),
});
/** Everyone typing now (each entry expires about 5 s after that member's last typing signal). */
export const TypingFrame = z.object({ type: z.literal("typing"), users: z.array(UserId) });
export type ReceiptsFrame = z.infer<typeof ReceiptsFrame>;
export type RoomPresenceFrame = z.infer<typeof RoomPresenceFrame>;
export type TypingFrame = z.infer<typeof TypingFrame>;

/**
 * PROTOCOL R51: this socket belongs elsewhere (a live room's relay shard, or back to the room): connect to
 * `/parties/<party>/<id>` with the same session and position, now. A 4031 close follows.
 */
export const RedirectFrame = z.object({
  type: z.literal("redirect"),
  party: z.enum(["room", "relay"]),
  id: z.string().min(1).max(LIMITS.maxRoomIdChars + 4),
  shard: z.number().int().nonnegative().optional(),
  shards: z.number().int().nonnegative(),
});
export type RedirectFrame = z.infer<typeof RedirectFrame>;

export const ServerFrame = z.discriminatedUnion("type", [WelcomeFrame, AckFrame, EventsFrame, HistoryFrame, ErrorFrame, ReceiptsFrame, RoomPresenceFrame, TypingFrame, RedirectFrame]);
export type ServerFrame = z.infer<typeof ServerFrame>;

// ---- Identity and room settings.

/** Claims kaiwa reads from a verified JWT (PROTOCOL I7): `sub` is the user id. */
export const TokenClaims = z.object({
  sub: UserId,
  name: z.string().min(1).max(LIMITS.maxDisplayNameChars).optional(),
  role: z.enum(["operator"]).optional(),
});
export type Identity = { id: string; name: string; role?: "operator" };

/** The numeric settings' ranges: the schema enforces them, and a room clamps stored values into them on load. */
export const ROOM_SETTING_RANGES = {
  maxTextChars: [1, LIMITS.maxTextChars],
  /** Minimum ms between two posts by the same user; 0 is off. Operators are exempt. */
  slowModeMs: [0, 3_600_000],
  /** PROTOCOL R18: messages a user may post per second in this room (0: no limit); unset: the deployment's default. */
  messagesPerSecond: [0, 100_000],
  /** PROTOCOL R18: messages a user may post at once before the rate applies; unset: the deployment's default. */
  messageBurst: [1, 100_000],
  /** PROTOCOL R53: live rooms: relay shards viewers are spread over (0: none, everyone on the room); with `autoShards`, the least. */
  shards: [0, 512],
  /** PROTOCOL R53: with `autoShards`, one more shard per this many viewers. */
  viewersPerShard: [1, 32_768],
} as const satisfies Record<string, readonly [number, number]>;

const settingFields = {
  /** Who may post: everyone with a valid token, or operators only (announcement channels). */
  whoMayPost: z.enum(["everyone", "operators"]),
  maxTextChars: z.number().int().min(ROOM_SETTING_RANGES.maxTextChars[0]).max(ROOM_SETTING_RANGES.maxTextChars[1]),
  slowModeMs: z.number().int().min(ROOM_SETTING_RANGES.slowModeMs[0]).max(ROOM_SETTING_RANGES.slowModeMs[1]),
  messagesPerSecond: z.number().int().min(ROOM_SETTING_RANGES.messagesPerSecond[0]).max(ROOM_SETTING_RANGES.messagesPerSecond[1]),
  messageBurst: z.number().int().min(ROOM_SETTING_RANGES.messageBurst[0]).max(ROOM_SETTING_RANGES.messageBurst[1]),
  // Live rooms (PROTOCOL R50, R53).
  shards: z.number().int().min(ROOM_SETTING_RANGES.shards[0]).max(ROOM_SETTING_RANGES.shards[1]),
  autoShards: z.boolean(),
  viewersPerShard: z.number().int().min(ROOM_SETTING_RANGES.viewersPerShard[0]).max(ROOM_SETTING_RANGES.viewersPerShard[1]),
  /** The room's hosts (the artist): their messages carry `host: true`. */
  hosts: z.array(UserId).max(20),
};

export const RoomSettings = z.object({
  whoMayPost: settingFields.whoMayPost.default("everyone"),
  maxTextChars: settingFields.maxTextChars.default(LIMITS.maxTextChars),
  slowModeMs: settingFields.slowModeMs.default(0),
  messagesPerSecond: settingFields.messagesPerSecond.optional(),
  messageBurst: settingFields.messageBurst.optional(),
  // Live rooms; unset: no shards, fixed, 10,000 viewers per shard, no hosts (party/room/relays.ts).
  shards: settingFields.shards.optional(),
  autoShards: settingFields.autoShards.optional(),
  viewersPerShard: settingFields.viewersPerShard.optional(),
  hosts: settingFields.hosts.optional(),
});
export type RoomSettings = z.infer<typeof RoomSettings>;
/** What an operator sets: only the fields given, no defaults filled in (a room stores exactly this). */
export const RoomSettingsPatch = z.object(settingFields).partial().strict();
export type RoomSettingsPatch = z.infer<typeof RoomSettingsPatch>;
