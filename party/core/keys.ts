/**
 * Storage key layout of a room. One key per event (PROTOCOL R2.1): the log never sits in one value,
 * and zero-padded seqs make `storage.list` return events in seq order.
 */
export const META_KEY = "meta";
export const SETTINGS_KEY = "settings";
/** Groups: `{title, members: {user: {role, since}}}`, rewritten with every membership event. */
export const MEMBERS_KEY = "members";
const SEQ_DIGITS = 12;

export const eventKey = (seq: number): string => `m:${String(seq).padStart(SEQ_DIGITS, "0")}`;
export const EVENT_PREFIX = "m:";
export const sessionKey = (userId: string, sessionId: string): string => `s:${userId}:${sessionId}`;

export type RoomMeta = { epoch: string; lastSeq: number; createdAt: number };
export type StoredSession = { lastN: number };
