/**
 * Every frame of the kaiwa protocol as zod schemas, shared by party/ and client/.
 * Inbound frames are parsed here at the boundary (PROTOCOL I8); outbound frames are built with
 * `satisfies ServerFrame` so a change here breaks the build wherever a frame is made.
 *
 * Written with `zod/mini` (functions, not methods: `z.optional(s)`, `s.check(z.maxLength(n))`): the client
 * bundles these schemas, and classic zod's method chains keep all of zod in every bundle (~35 KB gzipped
 * of a 44 KB client); mini tree-shakes to what is used. Same parser, same issues: the server loads
 * classic zod's English messages (party/config.ts), so its error texts are unchanged.
 */
import * as z from "zod/mini";
import { ERROR_CODES, type ErrorCode } from "./codes.ts";
import { WIRE_LIMITS } from "./limits.ts";

/**
 * Ids are plain so they can sit inside storage keys and room names without escaping; `__proto__` is refused,
 * since ids key plain-object maps (read positions, receipts) where it cannot be stored (own-keys.ts).
 */
export const ID_PATTERN = /^(?!__proto__$)[A-Za-z0-9_-]+$/;
export const idString = (max: number) =>
  z.string().check(z.minLength(1), z.maxLength(max), z.regex(ID_PATTERN, "only letters, digits, _ and - (and not __proto__)"));

export const UserId = idString(WIRE_LIMITS.maxUserIdChars);
export const ClientId = idString(WIRE_LIMITS.maxClientIdChars);
export const SessionId = idString(WIRE_LIMITS.maxSessionIdChars);
export const Seq = z.int().check(z.positive());
/**
 * A JSON object with any keys (user ids, seqs, emoji) whose every value matches `value`. On JSON, whose keys
 * are always strings, it checks what `z.record(z.string(), value)` checks; written as an object with a catchall
 * because zod's record kind would add ~0.5 KiB gzipped to the client's browser bundle for the same check (PROTOCOL R76).
 */
const keyed = <T extends z.core.SomeType>(value: T) => z.catchall(z.object({}), value);

/** An upload's id: random, unguessable, the name of its object in storage (PROTOCOL R30). */
export const UploadId = z.string().check(z.regex(/^[A-Za-z0-9_-]{24}$/, "an upload id is 24 letters, digits, _ or -"));
/**
 * A stored file in a message, as the room wrote it after checking the object (PROTOCOL R31): `type` is the
 * sniffed type (equal to the declared one), `width`/`height` for images. Downloads go through the room's
 * `files/<id>` route (PROTOCOL R32), so no URL is stored: a signed one would expire.
 */
export const Attachment = z.object({
  id: UploadId,
  name: z.string().check(z.maxLength(256)),
  type: z.string().check(z.maxLength(128)),
  size: z.int().check(z.nonnegative()),
  width: z.optional(z.int().check(z.positive())),
  height: z.optional(z.int().check(z.positive())),
});
/** What a command names: an upload made in this room by this user (PROTOCOL R31); the room fills in the rest. */
export const AttachmentRef = z.object({ upload: UploadId });
export type AttachmentRef = z.infer<typeof AttachmentRef>;
export type Attachment = z.infer<typeof Attachment>;

/**
 * Who did something, stamped by the room from the verified token (PROTOCOL I7), never read from a frame.
 * `bot`: posted through the publish API by an app's backend in the name of a bot (PROTOCOL R61); bot ids
 * start with `bot_`, which no user token may carry.
 */
export const Author = z.object({ id: UserId, name: z.string().check(z.maxLength(WIRE_LIMITS.maxDisplayNameChars)), bot: z.optional(z.literal(true)) });
export type Author = z.infer<typeof Author>;

// ---- Client → room commands. Each carries the session's next number `n` (PROTOCOL I4) and a clientId (PROTOCOL I3).

const commandBase = { clientId: ClientId, n: z.int().check(z.positive()) };

export const SendCommand = z.object({
  type: z.literal("send"),
  ...commandBase,
  text: z.string(),
  attachments: z.optional(z.array(AttachmentRef).check(z.maxLength(WIRE_LIMITS.maxAttachments))),
  /** PROTOCOL R22: the message this one answers (quoted by seq). */
  replyTo: z.optional(Seq),
  /** PROTOCOL R23: post into the thread under this message (a thread reply's own thread, if it is one). */
  thread: z.optional(Seq),
});
export const EditCommand = z.object({ type: z.literal("edit"), ...commandBase, target: Seq, text: z.string() });
export const DeleteCommand = z.object({ type: z.literal("delete"), ...commandBase, target: Seq });
/** PROTOCOL R20: an emoji is a short token with no whitespace ("👍", ":party_parrot:"), and not `__proto__` (own-keys.ts). */
export const Emoji = z.string().check(z.minLength(1), z.maxLength(WIRE_LIMITS.maxEmojiChars), z.regex(/^(?!__proto__$)\S+$/u, "an emoji has no whitespace (and is not __proto__)"));
/** PROTOCOL R20: add (or with `remove`, take back) the sender's reaction `emoji` on message `target`. */
export const ReactCommand = z.object({ type: z.literal("react"), ...commandBase, target: Seq, emoji: Emoji, remove: z.optional(z.boolean()) });
/** PROTOCOL R24: pin (or with `remove`, unpin) message `target`. */
export const PinCommand = z.object({ type: z.literal("pin"), ...commandBase, target: Seq, remove: z.optional(z.boolean()) });
export type ReactCommand = z.infer<typeof ReactCommand>;
export type PinCommand = z.infer<typeof PinCommand>;
/** PROTOCOL R23: a page of the thread under `parent`, oldest first, replies with seq > `after`. */
export const ThreadRequest = z.object({
  type: z.literal("thread"),
  requestId: z.string().check(z.minLength(1), z.maxLength(64)),
  parent: Seq,
  after: z._default(z.int().check(z.nonnegative()), 0),
  limit: z._default(z.int().check(z.positive(), z.maximum(WIRE_LIMITS.maxHistoryLimit)), 50),
});
export type ThreadRequest = z.infer<typeof ThreadRequest>;
export const HistoryRequest = z.object({
  type: z.literal("history"),
  requestId: z.string().check(z.minLength(1), z.maxLength(64)),
  /** Return events with seq < before (default: after the latest). */
  before: z.optional(Seq),
  limit: z._default(z.int().check(z.positive(), z.maximum(WIRE_LIMITS.maxHistoryLimit)), 50),
});

// ---- Group membership commands (groups `g:<id>`): sequenced like messages (PROTOCOL I1-I4), decided by room roles.

export const Role = z.enum(["owner", "moderator", "member"]);
export type Role = z.infer<typeof Role>;
const Title = z.string().check(z.trim(), z.minLength(1), z.maxLength(WIRE_LIMITS.maxTitleChars));
export const GroupCreateCommand = z.object({
  type: z.literal("group.create"),
  ...commandBase,
  title: Title,
  /** Invited members besides the creator (who becomes owner). */
  members: z.array(UserId).check(z.maxLength(WIRE_LIMITS.maxGroupMembers)),
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
export const ReadSignal = z.object({ type: z.literal("read"), seq: Seq, requestId: z.optional(z.string().check(z.minLength(1), z.maxLength(64))) });
export const TypingSignal = z.object({ type: z.literal("typing") });
export type ReadSignal = z.infer<typeof ReadSignal>;

export const Command = z.discriminatedUnion("type", [SendCommand, EditCommand, DeleteCommand, ReactCommand, PinCommand, ...membershipCommands]);
export type Command = z.infer<typeof Command>;
/**
 * Several commands in one frame, in order (PROTOCOL R17). Each element is checked and answered exactly as if it
 * had come in its own frame, so one bad element gets its own `bad_frame` and the others still go through.
 * Why: a socket's frames are each an event in the room's runtime; a client with many commands ready at
 * once (a burst, or the resend after a reconnect) pays that cost once instead of per command.
 */
export const CommandBatch = z.object({ type: z.literal("batch"), commands: z.array(z.unknown()).check(z.minLength(1), z.maxLength(WIRE_LIMITS.maxCommandsPerFrame)) });
export type CommandBatch = z.infer<typeof CommandBatch>;
export const ClientFrame = z.discriminatedUnion("type", [SendCommand, EditCommand, DeleteCommand, ReactCommand, PinCommand, ...membershipCommands, HistoryRequest, ThreadRequest, ReadSignal, TypingSignal, CommandBatch]);
export type ClientFrame = z.infer<typeof ClientFrame>;
export type HistoryRequest = z.infer<typeof HistoryRequest>;

// ---- Events in the room log. Every event has its own seq (PROTOCOL I1) and the server's timestamp.

const eventBase = { seq: Seq, ts: z.int(), author: Author, clientId: ClientId };

/** A message as stored: history shows its latest state (edited text, or a tombstone once deleted). */
export const MessageEvent = z.object({
  kind: z.literal("message"),
  ...eventBase,
  text: z.string(),
  attachments: z.optional(z.array(Attachment)),
  /** Set when the message was edited: the seq of the latest edit event. */
  editedBy: z.optional(Seq),
  /** Set when deleted: the seq of the delete event. Text and attachments are then cleared. */
  deletedBy: z.optional(Seq),
  /** PROTOCOL R25: when the latest edit was accepted (its ts). */
  editedAt: z.optional(z.int()),
  /** PROTOCOL R20: count per emoji (at most maxReactionsPerMessage keys; an emoji at 0 is gone). */
  reactions: z.optional(keyed(z.int().check(z.positive()))),
  /** PROTOCOL R22: the message this one answers. */
  replyTo: z.optional(Seq),
  /** PROTOCOL R23: the thread parent this message was posted under. */
  thread: z.optional(Seq),
  /** PROTOCOL R23: on a thread parent, its replies: how many, the last one's seq and ts. */
  replies: z.optional(z.object({ count: z.int().check(z.positive()), lastSeq: Seq, lastTs: z.int() })),
  /** PROTOCOL R26: members this message mentions, resolved by the room from `@id` in the text. */
  mentions: z.optional(z.array(UserId)),
  /** Live rooms: the author is one of the room's hosts (the artist) when it was sent (PROTOCOL R50). */
  host: z.optional(z.literal(true)),
});
/** `replaces`: the seq of the edit this one superseded, so an edit history is a chain (PROTOCOL R25). */
export const EditEvent = z.object({ kind: z.literal("edit"), ...eventBase, target: Seq, text: z.string(), replaces: z.optional(Seq) });
/** PROTOCOL R20: a reaction added or removed; `count` is the emoji's count on the target after it. */
export const ReactionEvent = z.object({
  kind: z.literal("reaction"),
  ...eventBase,
  target: Seq,
  emoji: Emoji,
  action: z.enum(["add", "remove"]),
  count: z.int().check(z.nonnegative()),
});
/** PROTOCOL R24: a message pinned or unpinned. */
export const PinEvent = z.object({ kind: z.literal("pin"), ...eventBase, target: Seq, action: z.enum(["pin", "unpin"]) });
export type ReactionEvent = z.infer<typeof ReactionEvent>;
export type PinEvent = z.infer<typeof PinEvent>;
export const DeleteEvent = z.object({ kind: z.literal("delete"), ...eventBase, target: Seq });
/** A group was created (with its first members) or renamed. */
export const GroupEvent = z.object({
  kind: z.literal("group"),
  ...eventBase,
  action: z.enum(["create", "rename"]),
  title: z.string(),
  members: z.optional(z.array(z.object({ id: UserId, role: Role }))),
});
/** A membership change: `user` was added, removed, left, or got `role`. */
export const MemberEvent = z.object({
  kind: z.literal("member"),
  ...eventBase,
  action: z.enum(["add", "remove", "leave", "role"]),
  user: UserId,
  role: z.optional(Role),
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
  until: z.optional(z.int()),
});
export const RoomEvent = z.discriminatedUnion("kind", [MessageEvent, EditEvent, DeleteEvent, ReactionEvent, PinEvent, GroupEvent, MemberEvent, AnnouncementEvent, ModerationEvent]);
export type AnnouncementEvent = z.infer<typeof AnnouncementEvent>;
export type ModerationEvent = z.infer<typeof ModerationEvent>;
export type MessageEvent = z.infer<typeof MessageEvent>;
export type EditEvent = z.infer<typeof EditEvent>;
export type DeleteEvent = z.infer<typeof DeleteEvent>;
export type RoomEvent = z.infer<typeof RoomEvent>;

// ---- Room → client frames.

/** PROTOCOL R22: what a reply shows of its parent, read from the parent's current record (edits and deletions show). */
export const Quote = z.object({ seq: Seq, author: Author, excerpt: z.string(), deleted: z.optional(z.literal(true)) });
export type Quote = z.infer<typeof Quote>;
/** A pinned message (PROTOCOL R24). */
export const Pin = z.object({ seq: Seq, by: UserId, ts: z.int() });
export type Pin = z.infer<typeof Pin>;
/**
 * Per-reader additions to a page of stored records (history, replay, thread pages; PROTOCOL R20, R22): `mine`,
 * the reader's own emoji per message seq; `quotes`, the current quote of each parent a reply in the page names.
 */
const readerExtras = {
  mine: z.optional(keyed(z.array(Emoji))),
  quotes: z.optional(keyed(Quote)),
};

export const ErrorFrame = z.object({
  type: z.literal("error"),
  code: z.enum(ERROR_CODES as [ErrorCode, ...ErrorCode[]]),
  message: z.string(),
  retryable: z.boolean(),
  /** The clientId or requestId of the frame this answers, when there was one. */
  ref: z.optional(z.string()),
  /** For out_of_order: the number the room expects next. For slow_mode: ms to wait. */
  expected: z.optional(z.int()),
  retryAfterMs: z.optional(z.int()),
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
  lastSeq: z.int().check(z.nonnegative()),
  /** Changes whenever the room's process starts; lets tests and operators see restarts. */
  bootId: z.string(),
  user: z.object({ id: UserId, name: z.string(), role: z.optional(z.string()) }),
  /** Highest command number this session has had accepted; the client resends above it. */
  sessionLastN: z.int().check(z.nonnegative()),
  /** null when the client did not ask to resume (a first connect). */
  resume: z.nullable(ResumeResult),
  /**
   * Frame types this room accepts beyond the first protocol ("batch": PROTOCOL R17). A client uses one only when
   * the room lists it, so a newer client still talks to an older room during a rolling deploy.
   */
  accepts: z.optional(z.array(z.string())),
  /**
   * PROTOCOL R84: the most commands the client may keep unacked on this socket (the room's window). A client
   * uses the smaller of this and its own; absent (an older room): its own.
   */
  window: z.optional(z.int().check(z.positive())),
  serverTime: z.int(),
  /** PROTOCOL R24: the room's pinned messages, oldest pin first. */
  pins: z.optional(z.array(Pin)),
  /** PROTOCOL R50: this user is one of the live room's hosts (its messages are flagged; it may show as typing). */
  host: z.optional(z.literal(true)),
  /** Rooms with members (groups and DMs): who belongs, their roles, read positions, who is here and typing. */
  members: z.optional(
    z.object({
      kind: z.enum(["dm", "group", "notices"]),
      title: z.string(),
      list: z.array(z.object({ id: UserId, role: Role })),
      reads: keyed(z.int().check(z.nonnegative())),
      present: z.array(UserId),
      typing: z.array(UserId),
    }),
  ),
});
export type WelcomeFrame = z.infer<typeof WelcomeFrame>;

/** The durable answer to a command: its seq and timestamp. `duplicate` marks the original ack re-sent (PROTOCOL I3). */
export const Ack = z.object({ clientId: ClientId, seq: Seq, ts: z.int(), duplicate: z.optional(z.boolean()) });
export type Ack = z.infer<typeof Ack>;
export const AckFrame = z.object({ type: z.literal("ack"), acks: z.array(Ack) });
export const EventsFrame = z.object({
  type: z.literal("events"),
  events: z.array(RoomEvent),
  /** True when these events are the resume replay rather than live traffic. */
  replay: z.optional(z.boolean()),
  ...readerExtras,
});
export const HistoryFrame = z.object({
  type: z.literal("history"),
  requestId: z.string(),
  events: z.array(RoomEvent),
  /** True when older events exist before the first one returned. */
  hasMore: z.boolean(),
  ...readerExtras,
});
/** PROTOCOL R23: the parent's record and a page of its thread, oldest first; `hasMore`: later replies exist. */
export const ThreadFrame = z.object({
  type: z.literal("thread"),
  requestId: z.string(),
  parent: MessageEvent,
  events: z.array(MessageEvent),
  hasMore: z.boolean(),
  ...readerExtras,
});
export type ThreadFrame = z.infer<typeof ThreadFrame>;
export type AckFrame = z.infer<typeof AckFrame>;
export type EventsFrame = z.infer<typeof EventsFrame>;
export type HistoryFrame = z.infer<typeof HistoryFrame>;

/** Members' read positions that changed in the last window (PROTOCOL I6); `delivered`: DM inboxes that have a seq. */
export const ReceiptsFrame = z.object({
  type: z.literal("receipts"),
  reads: keyed(z.int().check(z.nonnegative())),
  delivered: z.optional(keyed(z.int().check(z.nonnegative()))),
  requestId: z.optional(z.string()),
});
/**
 * Who holds a socket to the room: changes in the last window, and the occupancy. `listed: false`: an open
 * room above `presenceListMaxUsers` present users sends the count alone (lists empty).
 */
export const RoomPresenceFrame = z.object({
  type: z.literal("presence"),
  joined: z.array(UserId),
  left: z.array(UserId),
  count: z.int().check(z.nonnegative()),
  listed: z.optional(z.literal(false)),
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
  id: z.string().check(z.minLength(1), z.maxLength(WIRE_LIMITS.maxRoomIdChars + 4)),
  shard: z.optional(z.int().check(z.nonnegative())),
  shards: z.int().check(z.nonnegative()),
});
export type RedirectFrame = z.infer<typeof RedirectFrame>;

export const ServerFrame = z.discriminatedUnion("type", [WelcomeFrame, AckFrame, EventsFrame, HistoryFrame, ThreadFrame, ErrorFrame, ReceiptsFrame, RoomPresenceFrame, TypingFrame, RedirectFrame]);
export type ServerFrame = z.infer<typeof ServerFrame>;

// ---- Identity and room settings.

/** Claims kaiwa reads from a verified JWT (PROTOCOL I7): `sub` is the user id. */
export const TokenClaims = z.object({
  sub: UserId,
  name: z.optional(z.string().check(z.minLength(1), z.maxLength(WIRE_LIMITS.maxDisplayNameChars))),
  role: z.optional(z.enum(["operator"])),
});
export type Identity = { id: string; name: string; role?: "operator" };

/** The numeric settings' ranges: the schema enforces them, and a room clamps stored values into them on load. */
export const ROOM_SETTING_RANGES = {
  maxTextChars: [1, WIRE_LIMITS.maxTextChars],
  /** Minimum ms between two posts by the same user; 0 is off. Operators are exempt. */
  slowModeMs: [0, 3_600_000],
  /** PROTOCOL R18: messages a user may post per second in this room (0: no limit); unset: the deployment's default. */
  messagesPerSecond: [0, 100_000],
  /** PROTOCOL R18: messages a user may post at once before the rate applies; unset: the deployment's default. */
  messageBurst: [1, 100_000],
  /** PROTOCOL R41: how often HTTP readers poll `latest`; its `max-age` (whole seconds, rounded down). */
  pollIntervalMs: [1_000, 60_000],
  /** PROTOCOL R30: the largest file a member may upload to this room, in bytes; 0 turns uploads off. */
  maxUploadBytes: [0, WIRE_LIMITS.maxUploadBytesCeiling],
  /** PROTOCOL R53: live rooms: relay shards viewers are spread over (0: none, everyone on the room); with `autoShards`, the least. */
  shards: [0, 512],
  /** PROTOCOL R53: with `autoShards`, one more shard per this many viewers. */
  viewersPerShard: [1, 32_768],
} as const satisfies Record<string, readonly [number, number]>;

const settingFields = {
  /** Who may post: everyone with a valid token, or operators only (announcement channels). */
  whoMayPost: z.enum(["everyone", "operators"]),
  maxTextChars: intIn(ROOM_SETTING_RANGES.maxTextChars),
  slowModeMs: intIn(ROOM_SETTING_RANGES.slowModeMs),
  messagesPerSecond: intIn(ROOM_SETTING_RANGES.messagesPerSecond),
  messageBurst: intIn(ROOM_SETTING_RANGES.messageBurst),
  /** PROTOCOL R40: anyone, signed in or not, may read the room's log over HTTP, and shared caches may keep it. */
  public: z.boolean(),
  pollIntervalMs: intIn(ROOM_SETTING_RANGES.pollIntervalMs),
  maxUploadBytes: intIn(ROOM_SETTING_RANGES.maxUploadBytes),
  // Live rooms (PROTOCOL R50, R53).
  shards: intIn(ROOM_SETTING_RANGES.shards),
  autoShards: z.boolean(),
  viewersPerShard: intIn(ROOM_SETTING_RANGES.viewersPerShard),
  /** The room's hosts (the artist): their messages carry `host: true`. */
  hosts: z.array(UserId).check(z.maxLength(20)),
};
function intIn([min, max]: readonly [number, number]) {
  return z.int().check(z.minimum(min), z.maximum(max));
}

export const RoomSettings = z.object({
  whoMayPost: z._default(settingFields.whoMayPost, "everyone"),
  maxTextChars: z._default(settingFields.maxTextChars, WIRE_LIMITS.maxTextChars),
  slowModeMs: z._default(settingFields.slowModeMs, 0),
  messagesPerSecond: z.optional(settingFields.messagesPerSecond),
  messageBurst: z.optional(settingFields.messageBurst),
  public: z._default(settingFields.public, false),
  pollIntervalMs: z._default(settingFields.pollIntervalMs, 1_000),
  maxUploadBytes: z._default(settingFields.maxUploadBytes, WIRE_LIMITS.maxUploadBytes),
  // Live rooms; unset: no shards, fixed, 10,000 viewers per shard, no hosts (party/room/relays.ts).
  shards: z.optional(settingFields.shards),
  autoShards: z.optional(settingFields.autoShards),
  viewersPerShard: z.optional(settingFields.viewersPerShard),
  hosts: z.optional(settingFields.hosts),
});
export type RoomSettings = z.infer<typeof RoomSettings>;
/** What an operator sets: only the fields given, no defaults filled in (a room stores exactly this). */
export const RoomSettingsPatch = z.partial(z.strictObject(settingFields));
export type RoomSettingsPatch = z.infer<typeof RoomSettingsPatch>;
