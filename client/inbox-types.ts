import type { AnnouncementEvent, Conversation, DeleteEvent, GroupEvent, MemberEvent, ModerationEvent, EditEvent, InboxWelcome, MessageEvent, PresenceState, RoomEvent } from "../party/protocol/index.ts";
import type { KaiwaError } from "./errors.ts";
import type { StatusChange } from "./status.ts";
import type { ClientOptions } from "./types.ts";

export type KaiwaInboxOptions = ClientOptions & {
  /** Whose inbox: /parties/<party>/<user>. The server admits only the token's own user. */
  user: string;
  /** The party name; the kaiwa inbox party is "inbox". */
  party?: string;
  /**
   * Where to start per room (the `positions` of an earlier KaiwaInbox): events after these seqs are delivered.
   * Rooms not named here start at their lastSeq when first listed, so the app is not handed whole histories.
   */
  positions?: Record<string, number>;
  /** Deliver every room from seq 1 instead (a fresh device that wants everything; tests of completeness). */
  fromStart?: boolean;
  /** Which rooms' events this client follows (delivers gaplessly and syncs). Default: every room. */
  follow?: (room: string, kind: Conversation["kind"] | undefined) => boolean;
};

export type DmResult = { room: string; clientId: string; seq: number; ts: number };
export type ReadResult = { room: string; readSeq: number };
export type ConversationPage = { conversations: Conversation[]; hasMore: boolean; totalUnread: number };
export type RoomEventOf<E extends RoomEvent> = { room: string; event: E };

export type KaiwaInboxEvents = {
  status: StatusChange;
  welcome: InboxWelcome;
  /** Every event of every followed room exactly once, in seq order per room, without gaps. */
  event: RoomEventOf<RoomEvent>;
  message: RoomEventOf<MessageEvent>;
  edit: RoomEventOf<EditEvent>;
  delete: RoomEventOf<DeleteEvent>;
  /** A group's creation or rename, or a membership change, in a followed group. */
  membership: RoomEventOf<GroupEvent | MemberEvent>;
  /** An operator's notice or moderation action in a followed room. */
  announcement: RoomEventOf<AnnouncementEvent>;
  moderation: RoomEventOf<ModerationEvent>;
  /** A conversation row changed (new message, read on some device, ...), with the new total. */
  conversation: { conversation: Conversation; totalUnread: number };
  /** A contact went online or offline. */
  presence: PresenceState;
  /** Errors not tied to a pending DM or request (refusals, invalid frames, failed syncs). */
  error: KaiwaError;
};
