/**
 * What a room is, read from its (decoded) id alone, so the room, the worker and the archive agree without
 * asking the room: `dm:<a>:<b>` a direct conversation, `g:<id>` a group (members only, PROTOCOL R14),
 * `notices:<user>` a user's notices (PROTOCOL R63: only that user reads it, only the publish API writes it),
 * `live:<id>` a live-stream chat (an open room that may spread its audience over relay shards, PROTOCOL R50),
 * anything else an open room.
 */
export type RoomKind = "dm" | "group" | "notices" | "live" | "room";

export const NOTICES_PREFIX = "notices:";

export function roomKind(roomId: string): RoomKind {
  if (roomId.startsWith("dm:")) return "dm";
  if (roomId.startsWith("g:")) return "group";
  if (roomId.startsWith(NOTICES_PREFIX)) return "notices";
  if (roomId.startsWith("live:")) return "live";
  return "room";
}

/** The room holding `user`'s notices (PROTOCOL R63). */
export function noticesRoomId(user: string): string {
  return NOTICES_PREFIX + user;
}

/** The one user of `notices:<user>`, or undefined for any other room (or a malformed notices id). */
export function noticesOwner(roomId: string): string | undefined {
  if (!roomId.startsWith(NOTICES_PREFIX)) return undefined;
  const user = roomId.slice(NOTICES_PREFIX.length);
  return /^[A-Za-z0-9_-]{1,64}$/.test(user) ? user : undefined;
}
