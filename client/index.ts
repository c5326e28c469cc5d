export { KaiwaRoom } from "./room.ts";
export type { KaiwaRoomEvents, KaiwaRoomOptions, ResetInfo, ResetReason, SendResult } from "./room.ts";
export { KaiwaInbox, type ConversationPage, type DmResult, type KaiwaInboxEvents, type KaiwaInboxOptions, type ReadResult, type RoomEventOf } from "./inbox.ts";
export { KaiwaError, LOCAL_ERRORS, isErrorCode } from "./errors.ts";
// search() is the entry kaiwa/client/search (PROTOCOL R76); its types stay here too, for type-only imports.
export type { SearchOptions } from "./search.ts";
export type { KaiwaErrorCode, LocalErrorCode } from "./errors.ts";
export type { Status, StatusChange } from "./status.ts";
export type { Position } from "./sequencer.ts";
export type { HistoryPage } from "./requests.ts";
export type { BackoffOptions } from "./backoff.ts";
export type {
  AnnouncementEvent,
  Conversation,
  InboxWelcome,
  ModerationEvent,
  Attachment,
  AttachmentRef,
  UploadSlot,
  DeleteEvent,
  EditEvent,
  MessageEvent,
  RoomEvent,
  SearchHit,
  SearchPage,
  WelcomeFrame,
} from "../party/protocol/index.ts";
