/**
 * What a room is, read from its (decoded) id alone, so the room, the worker and the archive agree without
 * asking the room: `dm:<a>:<b>` a direct conversation, `g:<id>` a group (members only, PROTOCOL R14),
 * anything else an open room.
 */
export type RoomKind = "dm" | "group" | "room";

export function roomKind(roomId: string): RoomKind {
  if (roomId.startsWith("dm:")) return "dm";
  if (roomId.startsWith("g:")) return "group";
  return "room";
}
