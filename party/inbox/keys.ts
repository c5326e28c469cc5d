/**
 * Storage key layout of an inbox (PROTOCOL §9): every key and prefix the inbox actor stores under, in one
 * place. No prefix is a prefix of another, so `storage.list({ prefix })` never picks up another part's keys.
 */
import type { PresenceState } from "../protocol/index.ts";

/** The inbox's own record: `InboxMeta`. */
export const META_KEY = "meta";
/** A conversation (the room's latest snapshot for this user): `c:<room>` → `Entry` (core/inbox-core.ts). */
export const ENTRY_PREFIX = "c:";
/** Changed while the user had no device connected (PROTOCOL IB5): `q:<room>` → when it was marked. */
export const AWAY_PREFIX = "q:";
/** A contact's online status as last heard (PROTOCOL IB6): `p:<user>` → `StoredPresence`. */
export const PRESENCE_PREFIX = "p:";
/**
 * A room that acked this user's DMs and has not notified this inbox up to that seq (PROTOCOL IB3):
 * `o:<room>` → seq.
 */
export const OWED_PREFIX = "o:";
/**
 * Push jobs for an offline user (PROTOCOL IB5): `push:<12-digit n>`. PushQueue (party/adapters/push.ts)
 * writes them under this prefix; tests/unit/inbox-keys.test.ts holds the two together.
 */
export const PUSH_JOB_PREFIX = "push:";

export const entryKey = (room: string): string => ENTRY_PREFIX + room;
export const awayKey = (room: string): string => AWAY_PREFIX + room;
export const presenceKey = (user: string): string => PRESENCE_PREFIX + user;
export const owedKey = (room: string): string => OWED_PREFIX + room;

/** The room or user a prefixed key names. */
export const keyedId = (prefix: string, key: string): string => key.slice(prefix.length);

/** `origin`: where alarms call back through; `lastSeen`: null while a device is connected. */
export type InboxMeta = { user: string; origin: string; lastSeen: number | null };
/** `at`: when the contact's inbox stamped the change (a later one wins). */
export type StoredPresence = PresenceState & { at: number };
