/**
 * The pure core of a room actor: it decides what happens to each command and keeps the room's
 * in-memory state. No PartyKit import, no Date.now, no randomness: the clock comes in.
 * The shell (party/room.ts) loads what the core asks for, then carries out the returned writes.
 */
import { LIMITS, type Ack, type Command, type ErrorCode, type Identity, type MembershipCommand, type MessageEvent, type RoomEvent, type RoomSettings } from "../protocol/index.ts";
import { MEMBERS_KEY, META_KEY, eventKey, sessionKey, type RoomMeta, type StoredSession } from "./room-keys.ts";
import { isRefusal, type Membership } from "./membership.ts";
import type { Rejection } from "./rejection.ts";
import { Moderation, type ModerationAction } from "./moderation.ts";

/** Operator actions that are events but not client commands: sequenced like any other event (PROTOCOL I1). */
export type SystemAction = { type: "announcement"; text: string } | { type: "moderation"; action: ModerationAction; user: string; until?: number };

export type { Rejection };

export type Accepted = {
  status: "accepted";
  ack: Ack;
  event: RoomEvent;
  /** The event serialised once: stored as is and spliced into the broadcast frame. */
  eventJson: string;
  /** For edits and deletions: the target's record after this event. */
  targetAfter?: MessageEvent;
  /** For membership events: users who stopped being members (their sockets close once this is durable). */
  removed?: string[];
  writes: Array<[string, unknown]>;
};
export type Outcome =
  | Accepted
  | { status: "duplicate"; ack: Ack; committed: boolean }
  | { status: "rejected"; error: Rejection };

export type RoomCoreOptions = {
  meta: RoomMeta;
  settings: RoomSettings;
  clock: () => number;
  /** How many recent (sender, clientId) pairs are remembered for PROTOCOL I3. */
  dedupeWindow: number;
  /** How many recent events are kept in memory as edit/delete targets. */
  recentWindow: number;
  /** Groups only: members and roles; every command then needs membership. */
  membership?: Membership;
  /** Bans and mutes loaded from storage (party/core/moderation.ts). */
  moderation?: Moderation;
};

export class RoomCore {
  readonly epoch: string;
  private readonly createdAt: number;
  /** Highest seq handed out (optimistic, PROTOCOL I1). */
  lastAssigned: number;
  /** Highest seq whose write is durable (PROTOCOL I2): nothing above it is ever shown to anyone. */
  committedSeq: number;
  settings: RoomSettings;
  readonly moderation: Moderation;
  dedupeLoaded = false;

  private readonly sessions = new Map<string, StoredSession>();
  private readonly dedupe = new Map<string, { seq: number; ts: number }>();
  /** dedupe keys by seq modulo the window, so the oldest is evicted in O(1). */
  private readonly dedupeRing: (string | undefined)[] = [];
  private readonly recent = new Map<number, RoomEvent>();
  /** Targets changed by not-yet-durable edits/deletions: their last durable version, for reads. */
  private readonly overlay = new Map<number, { durable: MessageEvent; latest: MessageEvent; pending: number }>();
  private readonly lastPostAt = new Map<string, number>();

  constructor(private readonly options: RoomCoreOptions) {
    this.epoch = options.meta.epoch;
    this.createdAt = options.meta.createdAt;
    this.lastAssigned = options.meta.lastSeq;
    this.committedSeq = options.meta.lastSeq;
    this.settings = options.settings;
    this.moderation = options.moderation ?? new Moderation();
  }

  hasSession(key: string): boolean {
    return this.sessions.has(key);
  }

  setSession(key: string, stored: StoredSession | undefined): void {
    if (!this.sessions.has(key)) this.sessions.set(key, { lastN: stored?.lastN ?? 0 });
  }

  sessionLastN(key: string): number {
    return this.sessions.get(key)?.lastN ?? 0;
  }

  /** PROTOCOL I3 across restarts: rebuild the (sender, clientId) → seq map from the retained tail of the log. */
  loadDedupe(events: RoomEvent[]): void {
    for (const event of events) this.remember(event);
    this.dedupeLoaded = true;
  }

  /** Whether (sender, clientId) already has a seq (PROTOCOL I3): an admin retry then reuses its command number. */
  knows(userId: string, clientId: string): boolean {
    return this.dedupe.has(dedupeKey(userId, clientId));
  }

  /** The seq the shell must load from storage before `handle`, if the command targets one not in memory. */
  missingTarget(command: Command): number | undefined {
    if (command.type !== "edit" && command.type !== "delete") return undefined;
    const target = command.target;
    if (target > this.lastAssigned || this.recent.has(target) || this.overlay.has(target)) return undefined;
    return target;
  }

  handle(command: Command, who: Identity, sessionId: string, loadedTarget?: RoomEvent): Outcome {
    const sKey = sessionKey(who.id, sessionId);
    const session = this.sessions.get(sKey);
    if (!session) throw new Error(`session ${sKey} not loaded`);

    // PROTOCOL I3: a known (sender, clientId) gets its original ack, never a second event.
    const known = this.dedupe.get(dedupeKey(who.id, command.clientId));
    if (known) {
      if (command.n > session.lastN) return reject("clientid_reused");
      const ack = { clientId: command.clientId, seq: known.seq, ts: known.ts, duplicate: true };
      return { status: "duplicate", ack, committed: known.seq <= this.committedSeq };
    }
    // PROTOCOL I4: a session's commands are accepted in the order it numbered them.
    if (command.n <= session.lastN) return reject("out_of_order", { expected: session.lastN + 1 });
    // PROTOCOL R5: a jump past maxCommandNumberJump is refused, so no session can reach a number after
    // which nothing is left to send (2^53-1 once locked it: every later `expected` was past the schema).
    if (command.n - session.lastN > LIMITS.maxCommandNumberJump) {
      return reject("out_of_order", { expected: session.lastN + 1, message: `n may be at most ${LIMITS.maxCommandNumberJump} above the session's last accepted n.` });
    }
    if (isMembershipCommand(command)) {
      // Bans and mutes hold for membership commands too (a banned moderator adds no one, PROTOCOL R14).
      const moderated = this.options.membership ? this.moderation.refusal(who, command.type, this.options.clock()) : undefined;
      if (moderated) return { status: "rejected", error: moderated };
      return this.handleMembership(command, who, session, sKey);
    }
    // A pending edit/delete of an old target lives only in the overlay: decide on that newest version,
    // or a second delete would pass and a later edit would overwrite the tombstone.
    const target = command.type === "send" ? undefined : (this.recent.get(command.target) ?? this.overlay.get(command.target)?.latest ?? loadedTarget);
    const refused = this.refuse(command, who, target);
    if (refused) return { status: "rejected", error: refused };
    return this.accept(command, who, session, sKey, target as MessageEvent | undefined);
  }

  /** The batch holding these outcomes is durable. */
  commit(items: Accepted[]): void {
    for (const item of items) {
      this.committedSeq = Math.max(this.committedSeq, item.ack.seq);
      if (!item.targetAfter) continue;
      const entry = this.overlay.get(item.targetAfter.seq);
      if (!entry) continue;
      entry.durable = item.targetAfter;
      if (--entry.pending === 0) this.overlay.delete(item.targetAfter.seq);
    }
  }

  /**
   * What a reader may see of the stored record at `seq` (given as stored JSON): nothing if not yet
   * durable, the last durable version if a pending edit/delete already rewrote it, else the record.
   */
  visibleJson(seq: number, storedJson: string): string | undefined {
    if (seq > this.committedSeq) return undefined;
    const durable = this.overlay.get(seq)?.durable;
    return durable ? JSON.stringify(durable) : storedJson;
  }

  get membership(): Membership | undefined {
    return this.options.membership;
  }

  /** Group commands: decided by room roles (PROTOCOL I7), applied at once so later commands in the batch see them. */
  private handleMembership(command: MembershipCommand, who: Identity, session: StoredSession, sKey: string): Outcome {
    const membership = this.options.membership;
    if (!membership) return reject("forbidden", { message: "Only groups have members to manage." });
    const change = membership.decide(command, who);
    if (isRefusal(change)) return { status: "rejected", error: change };
    const seq = ++this.lastAssigned; // I1
    const ts = this.options.clock();
    const event = { ...change, seq, ts, author: { id: who.id, name: who.name }, clientId: command.clientId } as RoomEvent;
    const removed = membership.apply(event as Parameters<Membership["apply"]>[0]);
    const { eventJson, writes } = this.seal(event, { key: sKey, stored: session, n: command.n }, [[MEMBERS_KEY, membership.toJSON()]]);
    return { status: "accepted", ack: { clientId: command.clientId, seq, ts }, event, eventJson, writes, ...(removed.length ? { removed } : {}) };
  }

  meta(): RoomMeta {
    return { epoch: this.epoch, lastSeq: this.lastAssigned, createdAt: this.createdAt };
  }

  /**
   * An operator's announcement or moderation action, as the next event. The caller checked the role;
   * `clientId` makes a retried admin request idempotent (PROTOCOL I3). Moderation state changes in the same batch.
   */
  system(action: SystemAction, who: Identity, clientId: string): Accepted | { status: "duplicate"; ack: Ack; committed: boolean } {
    const known = this.dedupe.get(dedupeKey(who.id, clientId));
    if (known) return { status: "duplicate", ack: { clientId, seq: known.seq, ts: known.ts, duplicate: true }, committed: known.seq <= this.committedSeq };
    const seq = ++this.lastAssigned; // I1
    const ts = this.options.clock();
    const base = { seq, ts, author: { id: who.id, name: who.name }, clientId };
    const extra: Array<[string, unknown]> = [];
    let event: RoomEvent;
    if (action.type === "announcement") {
      event = { kind: "announcement", ...base, text: action.text };
    } else {
      event = { kind: "moderation", ...base, action: action.action, user: action.user, ...(action.until !== undefined ? { until: action.until } : {}) };
      extra.push(this.moderation.apply(action.action, action.user, action.until));
    }
    const { eventJson, writes } = this.seal(event, undefined, []);
    return { status: "accepted", ack: { clientId, seq, ts }, event, eventJson, writes: [...extra, ...writes] };
  }

  /** A live room's host (the artist), named in the room's settings by an operator (PROTOCOL R50). */
  private isHost(userId: string): boolean {
    return this.settings.hosts?.includes(userId) === true;
  }

  private refuse(command: Exclude<Command, MembershipCommand>, who: Identity, target: RoomEvent | undefined): Rejection | undefined {
    const isOperator = who.role === "operator";
    const membership = this.options.membership;
    if (membership && !membership.has(who.id)) return membership.exists ? { code: "not_member" } : { code: "not_found", message: "No such group: create it first." };
    const moderated = this.moderation.refusal(who, command.type, this.options.clock());
    if (moderated) return moderated;
    if (this.settings.whoMayPost === "operators" && !isOperator) {
      return { code: "forbidden", message: "Only operators may post in this room." };
    }
    if (command.type !== "delete") {
      const hasAttachments = command.type === "send" && (command.attachments?.length ?? 0) > 0;
      if (command.text.trim().length === 0 && !hasAttachments) return { code: "text_empty" };
      if (command.text.length > this.settings.maxTextChars) {
        return { code: "text_too_long", message: `At most ${this.settings.maxTextChars} characters.` };
      }
    }
    if (command.type === "send") {
      const last = this.lastPostAt.get(who.id);
      const wait = last === undefined ? 0 : last + this.settings.slowModeMs - this.options.clock();
      // A live room's hosts (the artist) are exempt like operators (PROTOCOL R50).
      if (this.settings.slowModeMs > 0 && !isOperator && !this.isHost(who.id) && wait > 0) return { code: "slow_mode", retryAfterMs: wait };
      return undefined;
    }
    if (!target || target.kind !== "message" || target.seq !== command.target) return { code: "not_found" };
    if (target.deletedBy !== undefined) return { code: "already_deleted" };
    const isAuthor = target.author.id === who.id;
    // Authors edit their own words; deletion is also open to operators (moderation).
    if (command.type === "edit" && !isAuthor) return { code: "forbidden", message: "Only the author may edit a message." };
    if (command.type === "delete" && !isAuthor && !isOperator) {
      return { code: "forbidden", message: "Only the author or an operator may delete a message." };
    }
    return undefined;
  }

  /** `target` was checked by `refuse` to be an undeleted message when the command is an edit or delete. */
  private accept(command: Exclude<Command, MembershipCommand>, who: Identity, session: StoredSession, sKey: string, target: MessageEvent | undefined): Accepted {
    const seq = ++this.lastAssigned; // I1: seq = lastSeq + 1, contiguous
    const ts = this.options.clock();
    const base = { seq, ts, author: { id: who.id, name: who.name }, clientId: command.clientId };
    let event: RoomEvent;
    let targetAfter: MessageEvent | undefined;
    if (command.type === "send") {
      event = { kind: "message", ...base, text: command.text, ...(command.attachments?.length ? { attachments: command.attachments } : {}), ...(this.isHost(who.id) ? { host: true as const } : {}) };
      this.lastPostAt.set(who.id, ts);
    } else {
      if (!target) throw new Error("accept: edit/delete without a checked target");
      this.holdDurableVersion(target);
      if (command.type === "edit") {
        event = { kind: "edit", ...base, target: command.target, text: command.text };
        targetAfter = { ...target, text: command.text, editedBy: seq };
      } else {
        event = { kind: "delete", ...base, target: command.target };
        const { attachments: _dropped, ...rest } = target;
        targetAfter = { ...rest, text: "", deletedBy: seq }; // a tombstone keeps its seq (I1)
      }
      this.overlay.get(targetAfter.seq)!.latest = targetAfter;
      this.rememberRecent(targetAfter);
    }
    const { eventJson, writes } = this.seal(event, { key: sKey, stored: session, n: command.n }, targetAfter ? [[eventKey(targetAfter.seq), JSON.stringify(targetAfter)]] : []);
    const ack = { clientId: command.clientId, seq, ts };
    return { status: "accepted", ack, event, eventJson, writes, ...(targetAfter ? { targetAfter } : {}) };
  }

  /**
   * The tail every sequenced event shares: the session's number moves on (PROTOCOL I4), the event is remembered for
   * PROTOCOL I3 and serialised once, and the writes that make it durable: the event, the session, meta, and `extra`.
   */
  private seal(
    event: RoomEvent,
    session: { key: string; stored: StoredSession; n: number } | undefined,
    extra: Array<[string, unknown]>,
  ): { eventJson: string; writes: Array<[string, unknown]> } {
    this.remember(event);
    const eventJson = JSON.stringify(event);
    const writes: Array<[string, unknown]> = [[eventKey(event.seq), eventJson]];
    if (session) {
      session.stored.lastN = session.n;
      writes.push([session.key, { lastN: session.n } satisfies StoredSession]);
    }
    writes.push([META_KEY, this.meta()], ...extra);
    return { eventJson, writes };
  }

  private holdDurableVersion(target: MessageEvent): void {
    const entry = this.overlay.get(target.seq);
    if (entry) entry.pending++;
    else this.overlay.set(target.seq, { durable: target, latest: target, pending: 1 });
  }

  // Eviction goes by seq arithmetic, not `map.keys().next()`: a Map drained from the front keeps
  // holes that make finding its first key slow (measured: 10 µs per message at 200k messages).
  private remember(event: RoomEvent): void {
    const key = dedupeKey(event.author.id, event.clientId);
    const slot = event.seq % this.options.dedupeWindow;
    const evicted = this.dedupeRing[slot];
    if (evicted !== undefined && this.dedupe.get(evicted)?.seq === event.seq - this.options.dedupeWindow) this.dedupe.delete(evicted);
    this.dedupeRing[slot] = key;
    this.dedupe.set(key, { seq: event.seq, ts: event.ts });
    this.rememberRecent(event);
  }

  private rememberRecent(event: RoomEvent): void {
    const oldest = this.lastAssigned - this.options.recentWindow;
    if (event.seq <= oldest) return;
    this.recent.set(event.seq, event);
    this.recent.delete(oldest);
  }
}

const dedupeKey = (userId: string, clientId: string): string => `${userId}\u0000${clientId}`;

function isMembershipCommand(command: Command): command is MembershipCommand {
  return command.type.startsWith("group.") || command.type.startsWith("member.");
}

function reject(code: ErrorCode, extra: Omit<Rejection, "code"> = {}): Outcome {
  return { status: "rejected", error: { code, ...extra } };
}
