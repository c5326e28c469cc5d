/**
 * What a room is, read from its (decoded) id alone, so the room, the worker and the archive agree without
 * asking the room: `dm:<a>:<b>` a direct conversation, `g:<id>` a group (members only, PROTOCOL R14),
 * `live:<id>` a live-stream chat (an open room that may spread its audience over relay shards, PROTOCOL R50),
 * anything else an open room.
 */
export type RoomKind = "dm" | "group" | "live" | "room";

export function roomKind(roomId: string): RoomKind {
  if (roomId.startsWith("dm:")) return "dm";
  if (roomId.startsWith("g:")) return "group";
  if (roomId.startsWith("live:")) return "live";
  return "room";
}
