/**
 * Storage key layout of the directory actor: every key it stores under, in one place (as core/room-keys.ts
 * for rooms and inbox/keys.ts for inboxes). One family: a room's latest report.
 */

/** A room's latest report: `r:<room>` → `RoomEntry` (protocol/admin-schema.ts). */
export const ROOM_ENTRY_PREFIX = "r:";
export const roomEntryKey = (room: string): string => ROOM_ENTRY_PREFIX + room;
