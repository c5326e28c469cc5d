/**
 * Who may do what in a room (PROTOCOL I7): pure rules on plain facts (the room id as the URL wrote it, the
 * verified identity, a group's membership, the room's settings, its bans and mutes). The room's shells ask
 * these and only turn a refusal into a frame, a close code or a response: no shell decides access itself,
 * so every path that reads or writes a room answers the same question the same way
 * (tests/unit/room-access.test.ts tables them).
 */
import { CLOSE, NOTICES_PREFIX, noticesOwner, roomKind, type Identity, type RoomKind, type RoomSettings } from "../protocol/index.ts";
import type { Rejection } from "./rejection.ts";

/** A group's members as the rules read them (core/membership.ts's `Membership` is one); absent outside groups. */
export type GroupView = { readonly exists: boolean; has(user: string): boolean };
/** A room's bans and mutes as the rules read them (core/moderation.ts's `Moderation` is one). */
export type Restrictions = { refusal(who: Identity, command: "send" | "connect", now: number): Rejection | undefined };
/** A refused socket: the typed error and the close code that follows it. */
export type SocketRefusal = Rejection & { close: number };

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

/** The platform's operators run the admin routes and the room's operator-only HTTP routes (stats, settings). */
export function isOperator(who: Identity): boolean {
  return who.role === "operator";
}

/**
 * Who may open a socket, checked in this order: the room's own rule (mayJoin), observing (operators only),
 * bans, then a created group's members (an operator watching as an observer is no member and still gets in:
 * the dashboard's live tail). A group not created yet admits anyone: its creator needs the socket.
 */
export function socketRefusal(room: { rawId: string; group?: GroupView | undefined; restrictions: Restrictions }, who: Identity, observing: boolean, now: number): SocketRefusal | undefined {
  if (!mayJoin(room.rawId, who)) {
    const message = kindOf(room.rawId) === "notices" ? "These are another user's notices." : "This is a direct conversation between two other users.";
    return { code: "forbidden", message, close: CLOSE.forbidden };
  }
  if (observing && !isOperator(who)) return { code: "forbidden", message: "Only operators may observe a room.", close: CLOSE.forbidden };
  const banned = room.restrictions.refusal(who, "connect", now);
  if (banned) return { ...banned, close: CLOSE.banned };
  if (room.group?.exists && !room.group.has(who.id) && !observing) return { code: "not_member", close: CLOSE.notMember };
  return undefined;
}

/**
 * History and thread pages over an admitted socket (PROTOCOL R9, R23): a group's members, and an operator
 * watching as an observer (the socket was admitted as one). A group not created yet has no readers.
 */
export function socketReadRefusal(group: GroupView | undefined, reader: { who: Identity; observer: boolean }): Rejection | undefined {
  if (!group || group.has(reader.who.id) || reader.observer) return undefined;
  return { code: "not_member" };
}

/**
 * Every HTTP read of a room's content (history, thread, pins): whoever may join it, in a group its members
 * only, and not while banned (PROTOCOL R40: a ban shuts the user out of the room's sockets and every read
 * alike). Operators read groups' content through the admin routes (and watch them as observers).
 */
export function httpReadRefusal(room: { rawId: string; group?: GroupView | undefined; restrictions: Restrictions }, who: Identity, now: number): Rejection | undefined {
  if (!mayJoin(room.rawId, who)) return { code: "forbidden" };
  if (room.group && !room.group.has(who.id)) return { code: "not_member" };
  return room.restrictions.refusal(who, "connect", now);
}

/**
 * The log pages (PROTOCOL R40): anyone when the log is public; otherwise a token, then exactly who may read
 * its history, and not while banned (a ban shuts the user out of the room's sockets and its log alike).
 */
export function logReadRefusal(room: { rawId: string; group?: GroupView | undefined; restrictions: Restrictions; isPublic: boolean }, who: Identity | undefined, now: number): Rejection | undefined {
  if (room.isPublic) return undefined;
  if (!who) return { code: "unauthorized", message: "This room's log is not public: pass a token (Authorization: Bearer, or ?token=)." };
  return httpReadRefusal(room, who, now);
}

/**
 * An attached file (PROTOCOL R32): whoever may read the room, and operators in a group too (the dashboard's
 * thumbnails, as they watch its live tail); never a DM's files for an operator (mayJoin).
 */
export function fileReadRefusal(room: { rawId: string; group?: GroupView | undefined; restrictions: Restrictions }, who: Identity, now: number): Rejection | undefined {
  if (!mayJoin(room.rawId, who)) return { code: "forbidden" };
  if (room.group && !room.group.has(who.id) && !isOperator(who)) return { code: "not_member" };
  return room.restrictions.refusal(who, "connect", now);
}

/** A live room's viewer showing as typing: refused by the room (typingRefusal) and by a relay, which holds no hosts (PROTOCOL R51). */
export const LIVE_TYPING_REFUSAL = { code: "forbidden", message: "In a live room only hosts show as typing." } as const satisfies Rejection;

/**
 * Who may show as typing, in a `typing` frame or an awareness state (PROTOCOL R15, R74): those who may post.
 * In a group its members; in a DM or notices room with a loaded inbox link its recipients (`recipients`; a
 * notices room has none who post, PROTOCOL R63); in an open room anyone. In a live room only its hosts and
 * operators, as for awareness: a stream's viewers post but are an audience of thousands, and "who is typing"
 * among them would be a frame for everyone every signal window. Never when only operators post, and never
 * while muted or banned.
 */
export function typingRefusal(
  room: { kind: RoomKind; group?: GroupView | undefined; recipients?: { has(user: string): boolean } | undefined; whoMayPost: RoomSettings["whoMayPost"]; restrictions: Restrictions; hosts?: readonly string[] | undefined },
  who: Identity,
  now: number,
): Rejection | undefined {
  if (inLiveAudience(room, who)) return LIVE_TYPING_REFUSAL;
  const mayPost = room.group ? room.group.has(who.id) : room.kind !== "notices" && (room.recipients?.has(who.id) ?? true);
  if (!mayPost || (room.whoMayPost === "operators" && !isOperator(who))) return { code: "forbidden", message: "Only members who may post show as typing." };
  const moderated = room.restrictions.refusal(who, "send", now);
  if (moderated) return { code: moderated.code, message: moderated.message ?? "You may not post here." };
  return undefined;
}

/**
 * Who may publish awareness state (PROTOCOL R74): observers (operators watching, relays) read and never
 * publish; in a live room (possibly thousands of viewers) only its hosts and operators publish. A state that
 * says `typing: true` is further held to typingRefusal.
 */
export function awarenessRefusal(room: { kind: RoomKind; hosts?: readonly string[] | undefined }, publisher: { who: Identity; observer: boolean }): Rejection | undefined {
  if (publisher.observer) return { code: "forbidden", message: "Observers read awareness; they publish none." };
  const { who } = publisher;
  if (inLiveAudience(room, who)) return { code: "forbidden", message: "In a live room only hosts publish awareness; viewers read it." };
  return undefined;
}

/**
 * A live room's viewer: neither one of its hosts nor an operator (PROTOCOL R15, R74: they read, they do not
 * signal; PROTOCOL R51: in a sharded room they sit on a relay, while hosts and operators stay on the room).
 */
export function inLiveAudience(room: { kind: RoomKind; hosts?: readonly string[] | undefined }, who: Identity): boolean {
  return room.kind === "live" && !isOperator(who) && !room.hosts?.includes(who.id);
}

/** The kind of a room from its id as the URL wrote it (an id that does not decode is taken as written). */
function kindOf(rawRoomId: string): RoomKind {
  try {
    return roomKind(decodeURIComponent(rawRoomId));
  } catch {
    return roomKind(rawRoomId);
  }
}

/** A read position (PROTOCOL I6): the room's recipients only (a DM's two, a group's members), never past its committed seq. */
export function readMarkRefusal(room: { recipients: { has(user: string): boolean }; committedSeq: number }, who: Identity, seq: number): Rejection | undefined {
  if (!room.recipients.has(who.id)) return { code: "not_member" };
  if (seq > room.committedSeq) return { code: "read_out_of_range", message: `The room's lastSeq is ${room.committedSeq}.` };
  return undefined;
}
