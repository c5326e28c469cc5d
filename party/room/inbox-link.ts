/**
 * The part of a room that is about its members' inboxes: read positions and unread counts (ReadState),
 * the conversation preview, and delivery of notifications (RoomNotifier) with a durable safety net.
 *
 * Loaded lazily, because the room's id is needed to know its members and `room.id` is unavailable in
 * `onAlarm`: the first connect or request records the id and the origin under WHERE_KEY.
 * Members: a DM's two participants (from its id) or a group's members (from the core's membership).
 * Open rooms have no members and keep this inert.
 */
import type * as Party from "partykit/server";
import { LIMITS, RoomEvent, noticesOwner, ownValue, type MessageEvent, type Preview } from "../protocol/index.ts";
import type { KaiwaConfig } from "../config.ts";
import { ReadState, membersFromRoomId } from "../core/read-state.ts";
import { RoomNotifier, type Cursor, type Snapshot } from "./notifier.ts";
import { callActor } from "../adapters/service-auth.ts";
import type { AlarmClock } from "../adapters/alarm-clock.ts";
import type { RoomCore } from "../core/room-core.ts";
import { readEvents, readEventsJson } from "../adapters/event-log.ts";
import { CURSOR_PREFIX, FAREWELL_PREFIX, READ_PREFIX, WHERE_KEY, cursorKey, farewellKey } from "../core/room-keys.ts";

type Farewell = { seq: number; ts: number };
/** The conversation list's title of a user's notices room (PROTOCOL R63). */
export const NOTICES_TITLE = "Notices";
export const farewellWrite = (user: string, seq: number, ts: number): [string, Farewell] => [farewellKey(user), { seq, ts }];
type Where = { roomId: string; origin: string };
type Committed = { event: RoomEvent; json: string; targetBefore?: MessageEvent };

export class RoomInboxLink {
  private where: Where | undefined;
  private reads: ReadState | undefined;
  private notifier: RoomNotifier | undefined;
  private loading: Promise<void> | undefined;
  /** True only while a load runs: commits then wait in `early` (never for inert, open rooms). */
  private loadRunning = false;
  private alarmArmed = false;
  private lastEvent: { seq: number; ts: number } = { seq: 0, ts: 0 };
  private lastMessage: MessageEvent | undefined;
  private readonly names = new Map<string, string>();
  /** Commits that land while the link is loading: applied once loaded, above what the load read. */
  private early: Array<{ events: Committed[]; reads: Array<{ user: string; seq: number }> }> = [];

  constructor(
    private readonly room: Party.Room,
    private readonly core: () => RoomCore,
    private readonly config: KaiwaConfig,
    private readonly alarms: AlarmClock,
  ) {}

  /** Removed members still owed their last notification (the one that says so). */
  private readonly farewell = new Map<string, Farewell>();

  get members(): readonly string[] {
    return this.reads?.members ?? [];
  }

  get active(): boolean {
    return this.reads !== undefined;
  }

  private get kind(): "dm" | "group" | "notices" {
    if (this.core().membership) return "group";
    return this.where && noticesOwner(this.where.roomId) ? "notices" : "dm";
  }

  /**
   * Call with the room id and origin from a connect or request (not available in alarms). The origin that
   * alarms call back through is KAIWA_PUBLIC_ORIGIN when set (production), else the first one seen.
   */
  async ensure(roomId: string, origin: string): Promise<void> {
    this.where ??= await this.room.storage.get<Where>(WHERE_KEY);
    if (!this.where) {
      this.where = { roomId, origin: this.config.publicOrigin ?? origin };
      await this.room.storage.put(WHERE_KEY, this.where);
    }
    await this.load();
  }

  /** Drops loaded state after the room reloaded its core (a failed write): rebuilt from storage. */
  reset(): Promise<void> {
    this.reads = undefined;
    this.notifier = undefined;
    this.loading = undefined;
    this.farewell.clear();
    return this.where ? this.load() : Promise.resolve();
  }

  private load(): Promise<void> {
    if (!this.loading) {
      this.loadRunning = true;
      this.loading = this.doLoad()
        .catch((error) => {
          this.loading = undefined;
          throw error;
        })
        .finally(() => {
          this.loadRunning = false;
          this.early = [];
        });
    }
    return this.loading;
  }

  private async doLoad(): Promise<void> {
    this.where ??= await this.room.storage.get<Where>(WHERE_KEY);
    if (!this.where) return;
    const dmMembers = membersFromRoomId(this.where.roomId);
    if (!this.core().membership && dmMembers.length === 0) return;
    const storage = this.room.storage;
    const core = this.core();
    const last = core.committedSeq;
    const stored: Record<string, number> = {};
    for (const [key, seq] of await storage.list<number>({ prefix: READ_PREFIX })) stored[key.slice(READ_PREFIX.length)] = seq;
    const cursors: Record<string, Cursor> = {};
    for (const [key, cursor] of await storage.list<Cursor>({ prefix: CURSOR_PREFIX })) cursors[key.slice(CURSOR_PREFIX.length)] = cursor;
    for (const [key, farewell] of await storage.list<Farewell>({ prefix: FAREWELL_PREFIX })) this.farewell.set(key.slice(FAREWELL_PREFIX.length), farewell);
    // Members as of the committed log (the core's membership is optimistic): an add not yet durable at
    // `last` arrives through `early` like any later commit. A member who never read starts at their add.
    const membership = this.core().membership;
    const members = membership ? membership.list().filter((m) => membership.since(m.id) <= last).map((m) => m.id) : dmMembers;
    const positions: Record<string, number> = {};
    for (const user of members) positions[user] = Math.max(ownValue(stored, user) ?? 0, membership?.since(user) ?? 0);
    const slowest = members.length ? Math.min(...members.map((m) => ownValue(positions, m) ?? 0)) : 0;
    // Counts are rebuilt from the log above the slowest reader (plus a short tail for the preview).
    const from = Math.max(1, Math.min(slowest + 1, last - 49));
    const retained = await readEvents(storage, core, from, last + 1);
    this.reads = new ReadState(members, positions, retained);
    for (const event of retained) this.noteEvent(event);
    const early = this.early;
    this.early = [];
    this.notifier = new RoomNotifier(
      {
        members: () => [...(this.reads?.members ?? []), ...this.farewell.keys()],
        isRecipient: (user) => (this.reads?.isMember(user) ?? false) || this.farewell.has(user),
        snapshot: (user) => this.snapshot(user),
        readEventsJson: (a, b) => readEventsJson(storage, this.core(), a, b),
        deliver: (user, body) => this.deliver(user, body),
        saveCursor: (user, cursor) => {
          if (this.farewell.get(user)?.seq === cursor.seq) {
            this.farewell.delete(user);
            void storage.delete(farewellKey(user)).catch((e) => console.error("clearing a farewell failed", e));
          }
          this.onConfirmed?.(user, cursor.seq);
          this.saveCursorSoon(user, cursor);
        },
        schedule: (fn, ms) => void setTimeout(fn, ms),
        random: Math.random,
        held: this.config.test.holdNotify,
      },
      cursors,
    );
    for (const commit of early) this.committed(commit.events.filter(({ event }) => event.seq > last), commit.reads);
    if (this.notifier.pending().length > 0) this.notifier.kick();
  }

  /** Deliver whatever is pending now (an inbox asked: it is owed a notification). */
  kick(): void {
    this.notifier?.kick();
  }

  /**
   * Confirmed cursors are stored at most once per second, all in one write: a lost cursor only means a
   * redelivery the inbox ignores (idempotent by room and seq), while a write per delivery cost two durable
   * writes per DM (each a sync in partykit dev). The alarm armed with every batch covers a crash.
   */
  private readonly cursorsToSave = new Map<string, Cursor>();
  private cursorTimer = false;
  private saveCursorSoon(user: string, cursor: Cursor): void {
    this.cursorsToSave.set(user, cursor);
    if (this.cursorTimer) return;
    this.cursorTimer = true;
    setTimeout(() => {
      this.cursorTimer = false;
      const entries = Object.fromEntries([...this.cursorsToSave].slice(0, 128).map(([u, c]) => [cursorKey(u), c]));
      for (const key of Object.keys(entries)) this.cursorsToSave.delete(key.slice(CURSOR_PREFIX.length));
      this.room.storage.put(entries).catch((e) => console.error("saving notify cursors failed", e));
      if (this.cursorsToSave.size > 0) this.saveCursorSoon(...[...this.cursorsToSave][0]!);
    }, 1000);
  }

  isMember(user: string): boolean {
    return this.reads?.isMember(user) ?? false;
  }

  /**
   * Call inside the persist turn of a batch that owes members a notification: the alarm is then set in the
   * same implicit transaction as the events, so a crash right after the write still ends in a delivery.
   */
  armAlarm(): void {
    if (!this.active || this.alarmArmed) return;
    this.alarmArmed = true;
    this.alarms.want("notify", Date.now() + this.config.room.notifyAlarmMs).catch((error) => {
      this.alarmArmed = false;
      console.error("arming the notify alarm failed", error);
    });
  }

  /** Committed events and reads, in commit order. */
  committed(events: Committed[], reads: Array<{ user: string; seq: number }>): void {
    if (!this.reads || !this.notifier) {
      if (this.loadRunning) this.early.push({ events, reads });
      return;
    }
    for (const { event, targetBefore } of events) {
      this.reads.applyEvent(event, targetBefore);
      this.noteEvent(event);
      if (event.kind === "group") for (const m of event.members ?? []) this.reads.addMember(m.id, event.seq);
      if (event.kind === "member" && event.action === "add") this.reads.addMember(event.user, event.seq);
      if (event.kind === "member" && (event.action === "remove" || event.action === "leave")) {
        this.reads.removeMember(event.user);
        this.farewell.set(event.user, { seq: event.seq, ts: event.ts });
      }
    }
    for (const { user } of reads) this.notifier.markDirty(user);
    for (const { user, seq } of reads) this.reads.applyRead(user, seq);
    this.notifier.committed(events.map(({ event, json }) => ({ seq: event.seq, json })));
  }

  /** The alarm fired: redeliver whatever is pending (after a crash, or failed calls) in the background. */
  wake(): void {
    this.alarmArmed = false;
    this.redeliver().catch((error) => console.error("redelivering inbox notifications failed", error));
  }

  private async redeliver(): Promise<void> {
    await this.load();
    if (!this.notifier) return;
    const done = await this.notifier.drain();
    if (!done) {
      this.alarmArmed = true;
      await this.alarms.want("notify", Date.now() + this.config.room.notifyAlarmMs);
    } else if (!this.alarmArmed) {
      await this.alarms.withdraw("notify");
    }
  }

  /** Called when a member's inbox confirmed a seq ("delivered" receipts in DMs). */
  onConfirmed: ((user: string, seq: number) => void) | undefined;

  readPositions(): Record<string, number> {
    return this.reads?.positions() ?? {};
  }

  snapshot(user: string): Snapshot {
    const reads = this.reads!;
    const farewell = this.farewell.get(user);
    const kind = this.kind;
    const peer = kind === "dm" ? this.members.find((m) => m !== user) : undefined;
    const message = this.lastMessage;
    const preview: Preview | null = message
      ? {
          seq: message.seq,
          ts: message.ts,
          author: message.author,
          text: message.deletedBy !== undefined ? "" : message.text.slice(0, LIMITS.previewChars),
          ...(message.deletedBy !== undefined ? { deleted: true } : {}),
        }
      : null;
    if (farewell !== undefined) {
      // A removed member hears of everything up to their removal, then nothing more (no later preview).
      return { room: this.where!.roomId, kind, title: this.core().membership?.name ?? "", lastSeq: farewell.seq, lastTs: farewell.ts, preview: null, readSeq: farewell.seq, unread: 0, left: true };
    }
    const title = kind === "group" ? (this.core().membership?.name ?? "") : kind === "notices" ? NOTICES_TITLE : peer ? (this.names.get(peer) ?? peer) : this.where!.roomId;
    return {
      room: this.where!.roomId,
      kind,
      title,
      ...(peer ? { peer } : {}),
      lastSeq: this.core().committedSeq,
      lastTs: this.lastEvent.ts,
      preview,
      readSeq: reads.readSeq(user),
      unread: reads.unread(user),
      ...(reads.mentions(user) > 0 ? { mentions: reads.mentions(user) } : {}),
    };
  }

  stats() {
    return {
      members: this.members.length,
      pendingInboxes: this.notifier?.pending().length ?? 0,
      notify: this.notifier ? { ...this.notifier.counters } : null,
      // Only under KAIWA_TEST_HOLD_NOTIFY: a test sees the switch act (notifications owed, none sent) instead of waiting.
      ...(this.config.test.holdNotify ? { held: true } : {}),
    };
  }

  private noteEvent(event: RoomEvent): void {
    if (event.seq >= this.lastEvent.seq) this.lastEvent = { seq: event.seq, ts: event.ts };
    this.names.set(event.author.id, event.author.name);
    if (event.kind === "message" && event.seq >= (this.lastMessage?.seq ?? 0)) this.lastMessage = event;
    if (event.kind === "edit" && this.lastMessage?.seq === event.target) this.lastMessage = { ...this.lastMessage, text: event.text, editedBy: event.seq };
    if (event.kind === "delete" && this.lastMessage?.seq === event.target) this.lastMessage = { ...this.lastMessage, text: "", deletedBy: event.seq };
  }

  private async deliver(user: string, body: string): Promise<void> {
    const response = await callActor(
      () => {
        const stub = this.room.context.parties.inbox!.get(user);
        return (path, init) => stub.fetch(path, init);
      },
      { origin: this.where?.origin, party: "inbox", id: user, env: this.room.env },
      "/notify",
      { method: "POST", headers: { "content-type": "application/json" }, body },
    );
    if (!response.ok) throw new Error(`inbox ${user} answered ${response.status}: ${(await response.text()).slice(0, 200)}`);
  }
}

export { RoomEvent };
