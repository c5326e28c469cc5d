/**
 * The pure core of a room actor: it decides what happens to each command and keeps the room's
 * in-memory state. No PartyKit import, no Date.now, no randomness: the clock comes in.
 * The shell (party/room.ts) loads what the core asks for, then carries out the returned writes.
 */
import { LIMITS, type Ack, type Attachment, type Author, type Command, type ErrorCode, type Identity, type MembershipCommand, type MessageEvent, type PinCommand, type Quote, type ReactCommand, type RoomEvent, type RoomSettings, quoteOf } from "../protocol/index.ts";
import { MEMBERS_KEY, META_KEY, PINS_KEY, editHistoryKey, eventKey, reactionKey, sessionKey, threadKey, type ReplacedVersion, type RoomMeta, type StoredSession } from "./room-keys.ts";
import { reactionChange, refuseParent, resolveMentions, withReply } from "./message-features.ts";
import { Pins } from "./pins.ts";
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
  /** For edits, deletions, reactions and thread replies: the target's (parent's) record after this event. */
  targetAfter?: MessageEvent;
  /** PROTOCOL R22: a reply's quote of its parent, for the live frame that carries it. */
  quote?: Quote;
  /** For membership events: users who stopped being members (their sockets close once this is durable). */
  removed?: string[];
  /** For deletions: the files the deleted message carried, whose objects are now owed a removal (PROTOCOL R33). */
  freed?: Attachment[];
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
  /** PROTOCOL R24: pins loaded from storage. */
  pins?: Pins;
  /** A user's notices room: users read it, only bots post in it (PROTOCOL R63). */
  botsOnly?: boolean;
  /** DMs: the two participants (who may be mentioned and may pin, PROTOCOL R24, R26). */
  participants?: readonly string[];
};

/**
 * A bot's message from the publish API (PROTOCOL R60, R61). Text only: an attachment must name an upload the
 * room checked (PROTOCOL R31), and a backend has no upload slot of its own.
 */
export type BotMessage = { text: string };

export class RoomCore {
  readonly epoch: string;
  private readonly createdAt: number;
  /** Highest seq handed out (optimistic, PROTOCOL I1). */
  lastAssigned: number;
  /** Highest seq whose write is durable (PROTOCOL I2): nothing above it is ever shown to anyone. */
  committedSeq: number;
  settings: RoomSettings;
  readonly moderation: Moderation;
  readonly pins: Pins;
  dedupeLoaded = false;

  private readonly sessions = new Map<string, StoredSession>();
  private readonly dedupe = new Map<string, { seq: number; ts: number }>();
  /** dedupe keys by seq modulo the window, so the oldest is evicted in O(1). */
  private readonly dedupeRing: (string | undefined)[] = [];
  private readonly recent = new Map<number, RoomEvent>();
  /** Targets changed by not-yet-durable edits/deletions: their last durable version, for reads. */
  private readonly overlay = new Map<number, { durable: MessageEvent; latest: MessageEvent; pending: number }>();
  private readonly lastPostAt = new Map<string, number>();
  /**
   * PROTOCOL R20: users' emoji per message, `reactionKey` → emoji, as accepted (pending included). Bounded: a
   * set not here is read from storage before its command is decided (`missingReactionSet`).
   */
  private readonly reactionSets = new Map<string, string[]>();

  constructor(private readonly options: RoomCoreOptions) {
    this.epoch = options.meta.epoch;
    this.createdAt = options.meta.createdAt;
    this.lastAssigned = options.meta.lastSeq;
    this.committedSeq = options.meta.lastSeq;
    this.settings = options.settings;
    this.moderation = options.moderation ?? new Moderation();
    this.pins = options.pins ?? new Pins(undefined);
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

  /** Sessions held in memory (PROTOCOL §7.2: bounded by `maxSessionsInMemory`). */
  get sessionCount(): number {
    return this.sessions.size;
  }

  /**
   * Forgets every session `held` does not name; returns how many went. Only safe while nothing decided is
   * still unwritten (each `lastN` in memory is then the stored one) and no task sits between loading a
   * session and deciding on it: the shell checks both (party/room/server.ts). A forgotten session comes back
   * from `s:<user>:<session>` when it is next needed, with the same `lastN` (PROTOCOL I4).
   */
  pruneSessions(held: (key: string) => boolean): number {
    let dropped = 0;
    for (const key of this.sessions.keys()) {
      if (held(key)) continue;
      this.sessions.delete(key);
      dropped++;
    }
    return dropped;
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

  /**
   * The event `(sender, clientId)` names, if the room remembers the pair (PROTOCOL I3): its seq and, while
   * it is among the recent events, its newest version (a REST retry is compared with it, PROTOCOL R44).
   */
  original(userId: string, clientId: string): { seq: number; event: RoomEvent | undefined } | undefined {
    const known = this.dedupe.get(dedupeKey(userId, clientId));
    return known ? { seq: known.seq, event: this.recent.get(known.seq) } : undefined;
  }

  /** The seqs the shell must load from storage before `handle`: targets and parents not in memory. */
  missingTargets(command: Command): number[] {
    const wanted = command.type === "send" ? [command.replyTo, command.thread] : "target" in command ? [command.target] : [];
    return wanted.filter((seq): seq is number => seq !== undefined && seq <= this.lastAssigned && !this.recent.has(seq) && !this.overlay.has(seq));
  }

  /** PROTOCOL R20: the message whose reaction set of `userId` the shell must read (`reactionKey`) before `handle`. */
  missingReactionSet(command: Command, userId: string): number | undefined {
    if (command.type !== "react" || this.reactionSets.has(reactionKey(command.target, userId))) return undefined;
    return command.target;
  }

  /** A reaction set read from storage (nothing stored: none). */
  setReactionSet(seq: number, userId: string, emoji: string[] | undefined): void {
    const key = reactionKey(seq, userId);
    if (!this.reactionSets.has(key)) this.keepReactionSet(key, emoji ?? []);
  }

  /**
   * `loaded`: targets and parents the shell read from storage (`missingTargets`). `attachments`: what the
   * shell found behind a send's upload refs, in their order (PROTOCOL R31); the refs alone are never
   * trusted: a send naming uploads without them is refused.
   */
  handle(command: Command, who: Identity, sessionId: string, loaded: RoomEvent | RoomEvent[] = [], attachments?: Attachment[]): Outcome {
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
    const loadedList = Array.isArray(loaded) ? loaded : [loaded];
    const find = (seq: number): RoomEvent | undefined => this.recent.get(seq) ?? this.overlay.get(seq)?.latest ?? loadedList.find((e) => e.seq === seq);
    if (command.type === "react" || command.type === "pin") {
      const refused = this.refuseMember(who, command.type) ?? this.refuseTarget(command.target, find(command.target));
      if (refused) return { status: "rejected", error: refused };
      const target = find(command.target) as MessageEvent;
      const session_ = { key: sKey, stored: session, n: command.n };
      return command.type === "react" ? this.react(command, who, session_, target) : this.pin(command, who, session_);
    }
    const target = command.type === "send" ? undefined : find(command.target);
    const refused = this.refuse(command, who, target, find);
    if (refused) return { status: "rejected", error: refused };
    const refs = command.type === "send" ? (command.attachments ?? []) : [];
    if (refs.length !== (attachments?.length ?? 0) || refs.some((ref, i) => ref.upload !== attachments![i]!.id)) return reject("upload_unknown", { message: "The uploads were not checked." });
    return this.accept(command, who, session, sKey, target as MessageEvent | undefined, find, attachments);
  }

  /** The batch holding these outcomes is durable. */
  commit(items: Accepted[]): void {
    for (const item of items) {
      this.committedSeq = Math.max(this.committedSeq, item.ack.seq);
      const event = item.event;
      this.pins.commit(event);
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
  isHost(userId: string): boolean {
    return this.settings.hosts?.includes(userId) === true;
  }

  /**
   * A bot's message from the publish API (PROTOCOL R61), as the next event: a `message` whose author carries
   * `bot: true`. The room's rules that concern the bot apply (membership of a group, its bans and mutes, the
   * room's text limit); slow mode, `whoMayPost` and the per-user rate do not (the service posts for the
   * platform, and PROTOCOL R62 bounds it). A known `(bot, clientId)` answers the original ack (PROTOCOL I3),
   * checked first, so a retry after a ban still learns the seq its first call got.
   */
  publish(bot: Identity, message: BotMessage, clientId: string): Outcome {
    const known = this.dedupe.get(dedupeKey(bot.id, clientId));
    if (known) return { status: "duplicate", ack: { clientId, seq: known.seq, ts: known.ts, duplicate: true }, committed: known.seq <= this.committedSeq };
    const membership = this.options.membership;
    if (membership && !membership.has(bot.id)) {
      return reject(membership.exists ? "not_member" : "not_found", { message: membership.exists ? "The bot is not a member of this group: a moderator adds it first." : "No such group." });
    }
    const moderated = this.moderation.refusal(bot, "send", this.options.clock());
    if (moderated) return { status: "rejected", error: moderated };
    if (message.text.trim().length === 0) return reject("text_empty");
    if (message.text.length > this.settings.maxTextChars) return reject("text_too_long", { message: `At most ${this.settings.maxTextChars} characters in this room.` });
    const seq = ++this.lastAssigned; // I1
    const ts = this.options.clock();
    const author: Author = { id: bot.id, name: bot.name, bot: true };
    const event: RoomEvent = { kind: "message", seq, ts, author, clientId, text: message.text };
    const { eventJson, writes } = this.seal(event, undefined, []);
    return { status: "accepted", ack: { clientId, seq, ts }, event, eventJson, writes };
  }

  /**
   * Whether `who` may post here now (membership, bans and mutes, who may post): asked of every message
   * command, and of an upload slot request before a URL is signed (PROTOCOL R30).
   */
  mayPost(who: Identity, type: Command["type"] = "send"): Rejection | undefined {
    const gate = this.refuseMember(who, type);
    if (gate) return gate;
    if (this.settings.whoMayPost === "operators" && who.role !== "operator") {
      return { code: "forbidden", message: "Only operators may post in this room." };
    }
    return undefined;
  }

  /** Members only in groups (PROTOCOL R14); bans and mutes (a muted user neither posts nor reacts). */
  private refuseMember(who: Identity, type: Command["type"]): Rejection | undefined {
    // A notices room takes the publish API's messages only, not even reactions (PROTOCOL R63).
    if (this.options.botsOnly) return { code: "forbidden", message: "Only the publish API posts in a notices room." };
    const membership = this.options.membership;
    if (membership && !membership.has(who.id)) return membership.exists ? { code: "not_member" } : { code: "not_found", message: "No such group: create it first." };
    return this.moderation.refusal(who, type, this.options.clock());
  }

  /** A reaction's or pin's target: an undeleted message (PROTOCOL R20, R24). */
  private refuseTarget(seq: number, target: RoomEvent | undefined): Rejection | undefined {
    if (!target || target.kind !== "message" || target.seq !== seq) return { code: "not_found" };
    if (target.deletedBy !== undefined) return { code: "already_deleted" };
    return undefined;
  }

  private refuse(command: Exclude<Command, MembershipCommand | ReactCommand | PinCommand>, who: Identity, target: RoomEvent | undefined, find: (seq: number) => RoomEvent | undefined): Rejection | undefined {
    const isOperator = who.role === "operator";
    const barred = this.mayPost(who, command.type);
    if (barred) return barred;
    if (command.type !== "delete") {
      const hasAttachments = command.type === "send" && (command.attachments?.length ?? 0) > 0;
      if (command.text.trim().length === 0 && !hasAttachments) return { code: "text_empty" };
      if (command.text.length > this.settings.maxTextChars) {
        return { code: "text_too_long", message: `At most ${this.settings.maxTextChars} characters.` };
      }
    }
    if (command.type === "send") {
      // PROTOCOL R22, R23: a reply names an undeleted message; a thread's parent is a top-level one.
      const refusal = this.refuseParents(command.replyTo, command.thread, find);
      if (refusal) return refusal;
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

  /** PROTOCOL R22, R23: the reply's and the thread's parents, where named (no array per message when neither is). */
  private refuseParents(replyTo: number | undefined, thread: number | undefined, find: (seq: number) => RoomEvent | undefined): Rejection | undefined {
    if (replyTo === undefined && thread === undefined) return undefined;
    for (const [seq, asThread] of [[replyTo, false], [thread, true]] as const) {
      if (seq === undefined) continue;
      const parent = find(seq);
      const refusal = refuseParent(parent?.kind === "message" ? parent : undefined, seq, asThread);
      if (refusal) return refusal;
    }
    return undefined;
  }

  /**
   * `target` was checked by `refuse` to be an undeleted message when the command is an edit or delete, and a
   * send's parents (`replyTo`, `thread`) to be undeleted messages that `find` returns.
   */
  private accept(
    command: Exclude<Command, MembershipCommand | ReactCommand | PinCommand>,
    who: Identity,
    session: StoredSession,
    sKey: string,
    target: MessageEvent | undefined,
    find: (seq: number) => RoomEvent | undefined,
    attachments: Attachment[] | undefined,
  ): Accepted {
    const seq = ++this.lastAssigned; // I1: seq = lastSeq + 1, contiguous
    const ts = this.options.clock();
    const base = { seq, ts, author: { id: who.id, name: who.name }, clientId: command.clientId };
    let event: RoomEvent;
    let targetAfter: MessageEvent | undefined;
    let quote: Quote | undefined;
    let freed: Attachment[] | undefined;
    const extra: Array<[string, unknown]> = [];
    if (command.type === "send") {
      const mentions = this.mentionsIn(command.text, who.id);
      // Built field by field rather than with spreads: this runs for every message of a hot room. The
      // order of assignment is the order of the serialised fields.
      const message: MessageEvent = { kind: "message", seq, ts, author: base.author, clientId: command.clientId, text: command.text };
      if (attachments?.length) message.attachments = attachments;
      if (command.replyTo !== undefined) message.replyTo = command.replyTo;
      if (command.thread !== undefined) message.thread = command.thread;
      if (mentions.length) message.mentions = mentions;
      if (this.isHost(who.id)) message.host = true;
      event = message;
      this.lastPostAt.set(who.id, ts);
      if (command.replyTo !== undefined) quote = quoteOf(find(command.replyTo) as MessageEvent);
      if (command.thread !== undefined) {
        // PROTOCOL R23: the parent's reply count and last reply move in the same batch; the index lists the thread.
        targetAfter = this.rewrite(find(command.thread) as MessageEvent, (parent) => withReply(parent, seq, ts));
        extra.push([threadKey(command.thread, seq), 1]);
      }
    } else {
      if (!target) throw new Error("accept: edit/delete without a checked target");
      if (command.type === "edit") {
        const mentions = this.mentionsIn(command.text, target.author.id);
        event = { kind: "edit", ...base, target: command.target, text: command.text, ...(target.editedBy !== undefined ? { replaces: target.editedBy } : {}) };
        targetAfter = this.rewrite(target, ({ mentions: _old, ...rest }) => ({ ...rest, text: command.text, editedBy: seq, editedAt: ts, ...(mentions.length ? { mentions } : {}) }));
        // PROTOCOL R25: the replaced version, for the operator's edit history (one small key per edit).
        extra.push([editHistoryKey(target.seq, seq), { seq: target.editedBy ?? target.seq, ts: target.editedAt ?? target.ts, text: target.text } satisfies ReplacedVersion]);
      } else {
        event = { kind: "delete", ...base, target: command.target };
        // A tombstone keeps its seq (PROTOCOL I1) and its reply and thread links; what it said and what it got goes.
        targetAfter = this.rewrite(target, ({ attachments: _a, reactions: _r, mentions: _m, ...rest }) => ({ ...rest, text: "", deletedBy: seq }));
        // PROTOCOL R33: its files' objects are owed a removal, written in the same batch by the shell.
        if (target.attachments?.length) freed = target.attachments;
        // PROTOCOL R24: a deleted message leaves the pins with it.
        if (this.pins.has(command.target)) extra.push([PINS_KEY, this.pins.apply(command.target, true, who.id, ts)]);
      }
    }
    if (targetAfter) extra.push([eventKey(targetAfter.seq), JSON.stringify(targetAfter)]);
    const { eventJson, writes } = this.seal(event, { key: sKey, stored: session, n: command.n }, extra);
    const ack = { clientId: command.clientId, seq, ts };
    return { status: "accepted", ack, event, eventJson, writes, ...(targetAfter ? { targetAfter } : {}), ...(quote ? { quote } : {}), ...(freed ? { freed } : {}) };
  }

  /** PROTOCOL R20: the target and the user's set were checked and loaded; the record's counts change with the event. */
  private react(command: ReactCommand, who: Identity, session: { key: string; stored: StoredSession; n: number }, target: MessageEvent): Outcome {
    const rKey = reactionKey(command.target, who.id);
    const mine = this.reactionSets.get(rKey);
    if (!mine) throw new Error(`react: reaction set ${rKey} not loaded`);
    const change = reactionChange(target, mine, command.emoji, command.remove === true);
    if ("code" in change) return { status: "rejected", error: change };
    const seq = ++this.lastAssigned; // I1
    const ts = this.options.clock();
    const event: RoomEvent = { kind: "reaction", seq, ts, author: { id: who.id, name: who.name }, clientId: command.clientId, target: command.target, emoji: command.emoji, action: command.remove ? "remove" : "add", count: change.count };
    const targetAfter = this.rewrite(target, () => change.after);
    this.keepReactionSet(rKey, change.mine);
    const { eventJson, writes } = this.seal(event, session, [[eventKey(target.seq), JSON.stringify(targetAfter)], [rKey, change.mine]]);
    return { status: "accepted", ack: { clientId: command.clientId, seq, ts }, event, eventJson, writes, targetAfter };
  }

  /**
   * PROTOCOL R24: moderators and owners pin in groups, either participant in a DM, operators in open rooms.
   * The target was checked to be an undeleted message.
   */
  private pin(command: PinCommand, who: Identity, session: { key: string; stored: StoredSession; n: number }): Outcome {
    const membership = this.options.membership;
    const role = membership?.roleOf(who.id);
    const allowed = membership ? role === "owner" || role === "moderator" : this.options.participants ? this.options.participants.includes(who.id) : who.role === "operator";
    if (!allowed) return reject("forbidden", { message: membership ? "Only moderators and owners pin messages." : "Only operators pin messages in this room." });
    const remove = command.remove === true;
    const refused = this.pins.refuse(command.target, remove);
    if (refused) return { status: "rejected", error: refused };
    const seq = ++this.lastAssigned; // I1
    const ts = this.options.clock();
    const event: RoomEvent = { kind: "pin", seq, ts, author: { id: who.id, name: who.name }, clientId: command.clientId, target: command.target, action: remove ? "unpin" : "pin" };
    const { eventJson, writes } = this.seal(event, session, [[PINS_KEY, this.pins.apply(command.target, remove, who.id, ts)]]);
    return { status: "accepted", ack: { clientId: command.clientId, seq, ts }, event, eventJson, writes };
  }

  /** PROTOCOL R26: members (groups) or participants (DMs) named with `@id`, never the author; open rooms have none. */
  private mentionsIn(text: string, author: string): string[] {
    const membership = this.options.membership;
    const participants = this.options.participants;
    if (!membership && !participants) return [];
    return resolveMentions(text, (user) => user !== author && (membership ? membership.has(user) : participants!.includes(user)));
  }

  /** A target rewritten by a pending event: readers keep seeing its durable version until the commit (PROTOCOL R2.5). */
  private rewrite(target: MessageEvent, change: (target: MessageEvent) => MessageEvent): MessageEvent {
    this.holdDurableVersion(target);
    const after = change(target);
    this.overlay.get(after.seq)!.latest = after;
    this.rememberRecent(after);
    return after;
  }

  private keepReactionSet(key: string, emoji: string[]): void {
    this.reactionSets.delete(key);
    this.reactionSets.set(key, emoji);
    if (this.reactionSets.size > LIMITS.maxReactionSetsInMemory) this.reactionSets.delete(this.reactionSets.keys().next().value!);
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
