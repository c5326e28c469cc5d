import type {
  GroupEvent,
  MemberEvent,
  ReceiptsFrame,
  RoomPresenceFrame,
  AnnouncementEvent,
  DeleteEvent,
  EditEvent,
  MessageEvent,
  ModerationEvent,
  PinEvent,
  ReactionEvent,
  ResumeResult,
  RoomEvent,
  WelcomeFrame,
} from "../party/protocol/index.ts";
import type { BackoffOptions } from "./backoff.ts";
import type { KaiwaError } from "./errors.ts";
import type { HistoryPage } from "./requests.ts";
import type { Position } from "./sequencer.ts";
import type { StatusChange } from "./status.ts";
import type { Schedule } from "./timers.ts";
import type { PresenceState } from "./room-awareness.ts";

/** Connection options shared by KaiwaRoom and KaiwaInbox. */
export type ClientOptions = {
  /** Host (and port) of the PartyKit server, passed to partysocket. */
  host: string;
  /** Called on every connection attempt, so each reconnect carries a fresh token. */
  token: string | (() => string | Promise<string>);
  /** A WebSocket class where there is no global one (Node 20: the `ws` package). */
  WebSocket?: unknown;
  pingIntervalMs?: number;
  pongTimeoutMs?: number;
  /** Most commands unacked on the socket at once (256); a room may grant fewer in its welcome (PROTOCOL R84). */
  maxInFlight?: number;
  backoff?: BackoffOptions;
  protocol?: "ws" | "wss";
  /** Default true: connect on the next microtask, so handlers attached right after `new` see every status. */
  autoConnect?: boolean;
  connectionTimeoutMs?: number;
  /** Id source for session, clientIds and requestIds (tests); nanoid by default. */
  newId?: () => string;
  schedule?: Schedule;
  /** Operators only: watch the room without counting as one of its connections (the dashboard's live tail). */
  observe?: boolean;
};

export type KaiwaRoomOptions = ClientOptions & {
  room: string;
  /** The party name in /parties/<party>/<room>; the kaiwa room party is "room". */
  party?: string;
  /** Resume from here instead of joining at the room's current position. */
  position?: Position;
  /** Default true: publish this connection's awareness state (PROTOCOL R73); false reads others' only. */
  awareness?: boolean;
};

/** A failed resume: the position jumped. `not_resumed`: the room ignored a position the client sent. */
export type ResetReason = Extract<ResumeResult, { recovered: false }>["reason"] | "not_resumed";
export type ResetInfo = { reason: ResetReason; latest: HistoryPage };
export type SendResult = { clientId: string; seq: number; ts: number };

export type KaiwaRoomEvents = {
  status: StatusChange;
  /** Every room event exactly once, in seq order, without gaps. */
  event: RoomEvent;
  message: MessageEvent;
  edit: EditEvent;
  delete: DeleteEvent;
  /** An operator's notice, sequenced in the log like a message. */
  announcement: AnnouncementEvent;
  /** An operator banned, muted or lifted that from a user in this room. */
  moderation: ModerationEvent;
  /** PROTOCOL R20: a reaction added or taken back; `count` is the emoji's count after it. See `reactions(seq)`. */
  reaction: ReactionEvent;
  /** PROTOCOL R24: a message pinned or unpinned. See `pins`. */
  pin: PinEvent;
  reset: ResetInfo;
  welcome: WelcomeFrame;
  /** A group was created or renamed, or a member was added, removed, left or got a role. */
  membership: GroupEvent | MemberEvent;
  /** Read positions changed (batched by the room); see `readers(seq)`. */
  receipts: ReceiptsFrame;
  /** Who holds a socket to the room changed; see `present`. */
  presence: RoomPresenceFrame;
  /** Everyone typing now. */
  typing: string[];
  /** Awareness states changed (PROTOCOL R73): the new `presence`, by user id. */
  awareness: ReadonlyMap<string, readonly PresenceState[]>;
  /** Errors not tied to a pending command or history request. */
  error: KaiwaError;
};
