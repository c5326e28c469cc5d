/** Who may open a room: pure, on the room id as written in the URL and the verified identity (PROTOCOL I7). */
import { NOTICES_PREFIX, noticesOwner, type Identity } from "../protocol/index.ts";

/**
 * A direct conversation `dm:<a>:<b>` is open to its two participants only, operators included:
 * operators inspect DMs through the audited operator API, not the client protocol.
 * Other rooms are open to any authenticated user until membership (groups issue) narrows them.
 */
export function mayJoin(rawRoomId: string, who: Identity): boolean {
  // The room id arrives as it was in the URL path: `dm%3Aa%3Ab` and `dm:a:b` are the same room name.
  let roomId = rawRoomId;
  try {
    roomId = decodeURIComponent(rawRoomId);
  } catch {
    return false;
  }
  // A user's notices are theirs alone, as private as a DM (PROTOCOL R63).
  if (roomId.startsWith(NOTICES_PREFIX)) return noticesOwner(roomId) === who.id;
  if (!roomId.startsWith("dm:")) return true;
  const parts = roomId.split(":");
  // Canonical form only (ids sorted, two different users), so one pair has exactly one DM room.
  const [, a, b] = parts;
  if (parts.length !== 3 || !a || !b || a >= b) return false;
  return a === who.id || b === who.id;
}
