/**
 * `kaiwa/react`: React hooks over the client (PROTOCOL R77). Each hook reads the client's own events and
 * getters through `useSyncExternalStore`, so a render never sees a half-applied update and nothing is
 * copied into React state by hand. React is a peer dependency; `kaiwa/client` does not include this file.
 *
 *   const { messages, status, send } = useRoom({ host, room: "general", token: getToken });
 *   const typing = useTyping(room);  const { present } = usePresence(room);
 *   const { conversations, totalUnread } = useInbox({ host, user: me, token: getToken });
 */
import { useCallback, useEffect, useRef, useState, useSyncExternalStore } from "react";
import { KaiwaError, KaiwaInbox, KaiwaRoom } from "./index.ts";
import type { PresenceState } from "./room-awareness.ts";
import type { Conversation, InboxWelcome, KaiwaInboxEvents, KaiwaInboxOptions, KaiwaRoomEvents, KaiwaRoomOptions, MessageEvent, SendResult, Status } from "./index.ts";

export type RoomState = {
  /** The room once connected by this component (null on the first render and after unmount). */
  room: KaiwaRoom | null;
  /** The messages received since joining (or since the latest reset's page), each once, in seq order; edits and deletions applied. */
  messages: readonly MessageEvent[];
  status: Status;
  /** `room.send`; rejects with `closed` before the room exists or after unmount. */
  send: (text: string) => Promise<SendResult>;
};

/**
 * Connects to a room for as long as the component is mounted (a new room when host, party or room change;
 * the socket closes on unmount). The other options are read when the room is made.
 */
export function useRoom(options: KaiwaRoomOptions): RoomState {
  const latest = useRef(options);
  latest.current = options;
  const [store, setStore] = useState<MessageStore | null>(null);
  useEffect(() => {
    const room = new KaiwaRoom(latest.current);
    // Made with the room, before it connects, so no event is missed while React schedules the next render.
    const made = new MessageStore(room);
    setStore(made);
    return () => {
      made.detach();
      room.close();
    };
  }, [options.host, options.party, options.room]);
  const snapshot = useSyncExternalStore(store?.subscribe ?? noSubscription, store?.snapshot ?? idleSnapshot, store?.snapshot ?? idleSnapshot);
  const room = store?.room ?? null;
  const send = useCallback((text: string) => (room ? room.send(text) : Promise.reject(new KaiwaError("closed"))), [room]);
  return { room, messages: snapshot.messages, status: snapshot.status, send };
}

export type InboxState = {
  inbox: KaiwaInbox | null;
  status: Status;
  user: InboxWelcome["user"] | null;
  /** Newest activity first. */
  conversations: readonly Conversation[];
  totalUnread: number;
};

/** A user's inbox for as long as the component is mounted: the conversation list with unread counts. */
export function useInbox(options: KaiwaInboxOptions): InboxState {
  const latest = useRef(options);
  latest.current = options;
  const [inbox, setInbox] = useState<KaiwaInbox | null>(null);
  useEffect(() => {
    const made = new KaiwaInbox(latest.current);
    setInbox(made);
    return () => made.close();
  }, [options.host, options.party, options.user]);
  const state = useClientValue(inbox, INBOX_EVENTS, readInbox);
  return { inbox, status: state?.status ?? "idle", user: state?.user ?? null, conversations: state?.conversations ?? [], totalUnread: state?.totalUnread ?? 0 };
}

// ---- Presence and typing: the one place that knows how the room client exposes them (room.members and its
// `presence`, `typing` and `welcome` events), so a change of that surface changes only these lines.

export type Presence = { present: readonly string[]; occupancy: number };
const PRESENCE_EVENTS = ["presence", "welcome", "status"] as const satisfies ReadonlyArray<keyof KaiwaRoomEvents>;
const TYPING_EVENTS = ["typing", "welcome", "membership", "status"] as const satisfies ReadonlyArray<keyof KaiwaRoomEvents>;
const readPresence = (room: KaiwaRoom): Presence => ({ present: [...room.members.present].sort(), occupancy: room.members.occupancy });
const readTyping = (room: KaiwaRoom): readonly string[] => [...room.members.typing];
const AWARENESS_EVENTS = ["awareness", "welcome", "status"] as const satisfies ReadonlyArray<keyof KaiwaRoomEvents>;
const readAwareness = (room: KaiwaRoom): ReadonlyMap<string, readonly PresenceState[]> => room.presence;
const NO_STATES: ReadonlyMap<string, readonly PresenceState[]> = new Map();

/** Who holds a socket to the room (named in groups, DMs and small open rooms) and how many. */
export function usePresence(room: KaiwaRoom | null): Presence {
  return useClientValue(room, PRESENCE_EVENTS, readPresence) ?? NO_PRESENCE;
}

/**
 * PROTOCOL R75: the room's awareness states by user id (each connection's state, with the room-stamped
 * `user`, `typing`, and the app's fields from `room.setState`), as `room.presence` holds them.
 */
export function useAwareness(room: KaiwaRoom | null): ReadonlyMap<string, readonly PresenceState[]> {
  return useClientValue(room, AWARENESS_EVENTS, readAwareness) ?? NO_STATES;
}

/** Everyone typing in the room now (the room expires each entry ~5 s after its last signal). */
export function useTyping(room: KaiwaRoom | null): readonly string[] {
  return useClientValue(room, TYPING_EVENTS, readTyping) ?? NO_ONE;
}

// ---- Stores.

type Snapshot = { status: Status; messages: readonly MessageEvent[] };
const idleSnapshot = (): Snapshot => IDLE;
const IDLE: Snapshot = { status: "idle", messages: [] };
const NO_PRESENCE: Presence = { present: [], occupancy: 0 };
const NO_ONE: readonly string[] = [];
const noSubscription = () => () => undefined;

/** A room's messages as immutable snapshots: a new array only when something changed. */
class MessageStore {
  readonly room: KaiwaRoom;
  #current: Snapshot;
  readonly #listeners = new Set<() => void>();
  readonly #offs: Array<() => void>;

  constructor(room: KaiwaRoom) {
    this.room = room;
    this.#current = { status: room.status, messages: [] };
    this.#offs = [
      room.on("status", ({ current }) => this.#set({ ...this.#current, status: current })),
      room.on("message", (message) => this.#set({ ...this.#current, messages: [...this.#current.messages, message] })),
      room.on("edit", (edit) => this.#update(edit.target, (m) => ({ ...m, text: edit.text, editedBy: edit.seq, editedAt: edit.ts }))),
      room.on("delete", (deletion) => this.#update(deletion.target, (m) => ({ ...m, text: "", attachments: undefined, deletedBy: deletion.seq }))),
      // The position jumped (PROTOCOL I5): what was shown may have holes, so show the room's latest page instead.
      room.on("reset", ({ latest }) => this.#set({ ...this.#current, messages: latest.events.filter((e): e is MessageEvent => e.kind === "message") })),
    ];
  }

  subscribe = (listener: () => void): (() => void) => {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  };

  snapshot = (): Snapshot => this.#current;

  detach(): void {
    for (const off of this.#offs) off();
  }

  #update(seq: number, change: (message: MessageEvent) => MessageEvent): void {
    const at = this.#current.messages.findIndex((m) => m.seq === seq);
    if (at < 0) return;
    const messages = [...this.#current.messages];
    messages[at] = change(messages[at]!);
    this.#set({ ...this.#current, messages });
  }

  #set(next: Snapshot): void {
    this.#current = next;
    for (const listener of [...this.#listeners]) listener();
  }
}

type InboxSnapshot = Omit<InboxState, "inbox">;
const INBOX_EVENTS = ["status", "welcome", "conversation", "event"] as const satisfies ReadonlyArray<keyof KaiwaInboxEvents>;
const readInbox = (inbox: KaiwaInbox): InboxSnapshot => ({ status: inbox.status, user: inbox.user, conversations: inbox.conversations, totalUnread: inbox.totalUnread });

type Source<E extends string> = { on(name: E, handler: () => void): () => void };

/**
 * A value read from a client's getters, read again after any of `events`. Cached per client so
 * useSyncExternalStore gets the same object until something changed; subscribing drops the cache, so what
 * happened before the subscription (between render and commit) is read too.
 */
function useClientValue<S extends Source<E>, E extends string, T>(source: S | null, events: readonly E[], read: (source: S) => T): T | undefined {
  const cache = useRef<{ source: S; value: T } | null>(null);
  const subscribe = useCallback(
    (notify: () => void) => {
      if (!source) return () => undefined;
      cache.current = null;
      const offs = events.map((name) =>
        source.on(name, () => {
          cache.current = null;
          notify();
        }),
      );
      return () => offs.forEach((off) => off());
    },
    [source, events],
  );
  const snapshot = (): T | undefined => {
    if (!source) return undefined;
    if (cache.current?.source !== source) cache.current = { source, value: read(source) };
    return cache.current.value;
  };
  return useSyncExternalStore(subscribe, snapshot, snapshot);
}
