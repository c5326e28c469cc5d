/**
 * Every storage key of a room actor, in one place (the room, its parts, the archive outbox, moderation and
 * the admin audit all write under these). One key per event (PROTOCOL R2.1): the log never sits in one
 * value, and zero-padded seqs make `storage.list` return events in seq order. Prefixes never overlap
 * (tests/unit/room-keys.test.ts), so a `list({prefix})` reads exactly one family.
 */
export const META_KEY = "meta";
export const SETTINGS_KEY = "settings";
/** Groups: `{title, members: {user: {role, since}}}`, rewritten with every membership event. */
export const MEMBERS_KEY = "members";
/** `{roomId, origin}`: the room's own id and the origin alarms call back through (room/inbox-link.ts). */
export const WHERE_KEY = "where";
/** The archive outbox's `{roomId, cursor, prunedThrough}` (archive/outbox.ts). */
export const ARCHIVE_STATE_KEY = "archive";
/** The room's pinned messages, `Pin[]` (core/pins.ts, PROTOCOL R24). */
export const PINS_KEY = "pins";
const SEQ_DIGITS = 12;

export const EVENT_PREFIX = "m:";
export const eventKey = (seq: number): string => `${EVENT_PREFIX}${String(seq).padStart(SEQ_DIGITS, "0")}`;
/** The seq an event key names (the inverse of eventKey). */
export const seqOfEventKey = (key: string): number => Number(key.slice(EVENT_PREFIX.length));
export const SESSION_PREFIX = "s:";
export const sessionKey = (userId: string, sessionId: string): string => `${SESSION_PREFIX}${userId}:${sessionId}`;
/** A member's read position (PROTOCOL I6). */
export const READ_PREFIX = "r:";
export const readKey = (user: string): string => READ_PREFIX + user;
/** What a member's inbox has confirmed (room/notifier.ts). */
export const CURSOR_PREFIX = "n:";
export const cursorKey = (user: string): string => CURSOR_PREFIX + user;
/** A removed member's last notification, owed until their inbox confirms it: `{seq, ts}` of the removal. */
export const FAREWELL_PREFIX = "f:";
export const farewellKey = (user: string): string => FAREWELL_PREFIX + user;
/** Bans and mutes with expiry (core/moderation.ts). */
export const MODERATION_PREFIX = "mod:";
export const moderationKey = (user: string): string => MODERATION_PREFIX + user;
/** Operators' audited reads (room/admin.ts): `audit:<ts, 15 digits>:<nonce>`, so a reverse list is newest first. */
export const AUDIT_PREFIX = "audit:";
export const auditKey = (ts: number, nonce: string): string => `${AUDIT_PREFIX}${String(ts).padStart(15, "0")}:${nonce}`;
/** Users the archive has recorded as seen members (`am:<user>`) and those queued for the next drain (`aq:<user>`). */
export const ARCHIVE_MEMBER_PREFIX = "am:";
export const archiveMemberKey = (user: string): string => ARCHIVE_MEMBER_PREFIX + user;
export const ARCHIVE_QUEUE_PREFIX = "aq:";
export const archiveQueueKey = (user: string): string => ARCHIVE_QUEUE_PREFIX + user;
/** Upload slots this room made (`u:<uploadId>`, core/uploads.ts), and object removals owed (`uj:<uploadId>`). */
export const UPLOAD_PREFIX = "u:";
export const uploadKey = (id: string): string => UPLOAD_PREFIX + id;
export const MEDIA_JOB_PREFIX = "uj:";
export const mediaJobKey = (id: string): string => MEDIA_JOB_PREFIX + id;
/** `{bytes, files}` the room's attached files hold in object storage. */
export const MEDIA_USAGE_KEY = "media";

/** PROTOCOL R23: one key per thread reply, `t:<parent seq>:<reply seq>`, so a thread page is one ordered list. */
export const THREAD_PREFIX = "t:";
export const threadPrefix = (parent: number): string => `${THREAD_PREFIX}${String(parent).padStart(SEQ_DIGITS, "0")}:`;
export const threadKey = (parent: number, seq: number): string => `${threadPrefix(parent)}${String(seq).padStart(SEQ_DIGITS, "0")}`;
/** The reply's seq a thread key names (the inverse of threadKey's second part). */
export const replySeqOfThreadKey = (key: string): number => Number(key.slice(THREAD_PREFIX.length).split(":")[1]);
/** PROTOCOL R25: each version an edit replaced, `eh:<message seq>:<edit seq>` → `{seq, ts, text}` (the operator's edit history). */
export const EDIT_HISTORY_PREFIX = "eh:";
export const editHistoryPrefix = (seq: number): string => `${EDIT_HISTORY_PREFIX}${String(seq).padStart(SEQ_DIGITS, "0")}:`;
export const editHistoryKey = (seq: number, edit: number): string => `${editHistoryPrefix(seq)}${String(edit).padStart(SEQ_DIGITS, "0")}`;
/** PROTOCOL R20: one user's emoji on one message, `rx:<seq>:<user>` → string[] (≤ 20 short entries). */
export const REACTION_PREFIX = "rx:";
export const reactionKey = (seq: number, user: string): string => `${REACTION_PREFIX}${String(seq).padStart(SEQ_DIGITS, "0")}:${user}`;
/** The message seq a reaction key names. */
export const seqOfReactionKey = (key: string): number => Number(key.slice(REACTION_PREFIX.length).split(":")[0]);

/** Every single key and prefix above, for the overlap check. */
export const ROOM_KEYS = { single: [META_KEY, SETTINGS_KEY, MEMBERS_KEY, WHERE_KEY, ARCHIVE_STATE_KEY, MEDIA_USAGE_KEY, PINS_KEY], prefixes: [EVENT_PREFIX, SESSION_PREFIX, READ_PREFIX, CURSOR_PREFIX, FAREWELL_PREFIX, MODERATION_PREFIX, AUDIT_PREFIX, ARCHIVE_MEMBER_PREFIX, ARCHIVE_QUEUE_PREFIX, UPLOAD_PREFIX, MEDIA_JOB_PREFIX, THREAD_PREFIX, REACTION_PREFIX, EDIT_HISTORY_PREFIX] } as const;

export type RoomMeta = { epoch: string; lastSeq: number; createdAt: number };
export type StoredSession = { lastN: number };
/** PROTOCOL R25: a message's text as it was before an edit: made by event `seq` (the message or an edit) at `ts`. */
export type ReplacedVersion = { seq: number; ts: number; text: string };
