/** Who may open a room, and the connect query a client sends. */
import { z } from "zod";
import { LIMITS, SessionId, type Identity } from "./protocol/index.ts";

/** `?session=<id>` names the device session (I4); `epoch` and `lastSeq` ask to resume (I5). */
export const ConnectQuery = z
  .object({
    session: SessionId,
    epoch: z.string().min(1).max(64).optional(),
    lastSeq: z.coerce.number().int().nonnegative().optional(),
    /** Operators only: watch without counting as a connection (party/room-admin.ts). */
    observe: z.literal("1").optional(),
  })
  .refine((q) => (q.epoch === undefined) === (q.lastSeq === undefined), "epoch and lastSeq come together");
export type ConnectQuery = z.infer<typeof ConnectQuery>;

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
  if (!roomId.startsWith("dm:")) return true;
  const parts = roomId.split(":");
  // Canonical form only (ids sorted, two different users), so one pair has exactly one DM room.
  const [, a, b] = parts;
  if (parts.length !== 3 || !a || !b || a >= b) return false;
  return a === who.id || b === who.id;
}

/** `GET /parties/room/<id>/history?before=&limit=`: the same bounds as the socket's history frame. */
export const HistoryQuery = z.object({
  before: z.coerce.number().int().positive().optional(),
  /** Read forwards: events with seq > after (an inbox device catching up). */
  after: z.coerce.number().int().nonnegative().optional(),
  limit: z.coerce.number().int().positive().max(LIMITS.maxHistoryLimit).default(50),
});

/** `POST /parties/room/<id>/read` (actor route): the member's new read position. */
export const ReadBody = z.object({ seq: z.number().int().positive() });
