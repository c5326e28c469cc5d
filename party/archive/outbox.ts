/**
 * A room's side of the archive: a durable outbox drained by the room's alarm (PROTOCOL I9).
 *
 * The outbox is the room log itself plus a cursor: `archive` in room storage holds the highest seq the
 * archive has confirmed. Nothing is copied on the send path; a commit only makes sure an alarm is set.
 * The alarm reads committed events after the cursor, upserts them in batches keyed by (room_id, seq), and
 * moves the cursor only after Postgres committed. A failure leaves the cursor where it was and re-arms
 * the alarm with backoff, while the room keeps accepting messages. Edits and deletions also re-send their
 * target's latest record (a tombstone once deleted), so the archived message matches the room's.
 *
 * Users the room sees join are queued under `aq:<user>` (once per user, `am:<user>` remembers it) and
 * written as members in the same transaction; posters are members through their events.
 *
 * Retention: events at or below `min(cursor, committedSeq - retention)` are deleted from room storage;
 * history below that floor (`prunedThrough`) is read from the archive.
 * In onAlarm `room.id` throws (partykit), so the room id is kept in the state record.
 */
import type * as Party from "partykit/server";
import type { RoomCore } from "../core/room-core.ts";
import { ARCHIVE_QUEUE_PREFIX, ARCHIVE_STATE_KEY, archiveMemberKey, archiveQueueKey, eventKey } from "../core/room-keys.ts";
import { roomKind } from "../protocol/room-kind.ts";
import { getEventsJson, readEventsJson } from "../adapters/event-log.ts";
import type { ArchiveSettings } from "./config.ts";
import type { AlarmClock } from "../adapters/alarm-clock.ts";
import { withDb, type Db } from "./connection.ts";
import { nextBatch, pruneFloor, replayableEvents, retryDelayMs, splitRange } from "./plan.ts";
import { READ_RANGE, READ_SEQS, UPSERT_EVENTS, UPSERT_EVENT_MEMBERS, UPSERT_SEEN_MEMBERS } from "./sql.ts";

/** If a drain has not re-armed by then (the room was evicted mid-drain), the alarm starts another. */
const WATCHDOG_MS = 60_000;

export type ArchiveState = { roomId: string; cursor: number; prunedThrough: number };
type SeenMember = { id: string; ts: number };

export class ArchiveUnavailable extends Error {}

export class RoomArchive {
  private state: ArchiveState | undefined;
  private loaded = false;
  /** An alarm is set (drain soon, or a retry after backoff): commits need not set another. */
  private armed = false;
  private failures = 0;
  private lastError: string | undefined;
  private nextRetryAt: number | undefined;
  private commits = 0;
  private draining = false;
  private readonly knownMembers = new Set<string>();
  readonly counters = { drains: 0, batches: 0, rows: 0, rowsWritten: 0, members: 0, failures: 0, replyLost: 0, pruned: 0, archiveReads: 0 };
  /** Called after a batch moved the cursor: the room re-reports its archive lag to the directory. */
  onProgress: (() => void) | undefined;

  constructor(
    private readonly storage: Party.Storage,
    private readonly settings: ArchiveSettings,
    private readonly core: () => RoomCore,
    /** The room's one alarm, shared with other users of it (party/adapters/alarm-clock.ts). */
    private readonly clock: AlarmClock,
  ) {}

  get enabled(): boolean {
    return this.settings.db !== undefined;
  }

  /** Called from onStart: needs no room id (onStart also runs when only the alarm woke the room). */
  async load(): Promise<void> {
    if (this.loaded) return;
    this.state = await this.storage.get<ArchiveState>(ARCHIVE_STATE_KEY);
    this.loaded = true;
  }

  /**
   * Makes sure a drain is scheduled; cheap when one already is. Synchronous, so a room calls it in the turn
   * a batch's puts are issued (PROTOCOL I9): the drain's alarm (and, the first time, its state) join that
   * write's implicit transaction, and a crash right after the ack cannot lose the drain. Also after a
   * member is queued, at start when the archive is behind, and when a drain ends with commits behind it.
   */
  armDrain(roomId: string): void {
    if (!this.enabled || this.armed) return;
    this.armed = true;
    const failed = (error: unknown) => {
      this.armed = false;
      console.error("archive: could not set the drain alarm", error);
    };
    if (!this.state) {
      this.state = { roomId, cursor: 0, prunedThrough: 0 };
      this.storage.put(ARCHIVE_STATE_KEY, this.state).catch(failed);
    }
    this.clock.want("archive", Date.now() + this.settings.drainDelayMs).catch(failed);
  }

  /** Committed events not yet confirmed by the archive; 0 when there is no archive. */
  lag(committedSeq: number): number {
    return this.enabled ? Math.max(0, committedSeq - (this.state?.cursor ?? 0)) : 0;
  }

  /** Whether committed events still wait for the archive (checked at start: resume the drain, PROTOCOL I9). */
  behind(committedSeq: number): boolean {
    return this.enabled && (this.state?.cursor ?? 0) < committedSeq;
  }

  /** Hook when a user joins: the first time, queue a membership row (durably, with the drain armed). */
  async noteMember(roomId: string, userId: string, ts: number): Promise<void> {
    if (!this.enabled || this.knownMembers.has(userId)) return;
    if ((await this.storage.get(archiveMemberKey(userId))) === undefined) {
      await this.storage.put({ [archiveMemberKey(userId)]: ts, [archiveQueueKey(userId)]: { id: userId, ts } satisfies SeenMember });
      this.armDrain(roomId);
    }
    this.knownMembers.add(userId);
  }

  /**
   * Hook for onAlarm; synchronous on purpose. While an alarm handler runs, partykit makes `room.id` and
   * `room.context.parties` throw for every handler of the room, including sockets and requests that
   * interleave at its awaits. So the handler only starts the drain and returns at once; the drain runs in
   * the background under a watchdog alarm, which restarts it if the room is evicted half way.
   */
  wake(): void {
    if (this.draining) {
      this.clock.want("archive", Date.now() + WATCHDOG_MS).catch(() => {});
      return;
    }
    this.draining = true;
    this.drain()
      .catch((error) => console.error("archive: drain bookkeeping failed", error))
      .finally(() => (this.draining = false));
  }

  /**
   * Never throws for a database failure: it is counted, shown in stats and retried with backoff. If setting
   * or clearing the alarm fails (or anything else here throws), no alarm can be counted on: `armed` goes
   * back to false, so the next commit arms again instead of trusting a drain that will never run.
   */
  private async drain(): Promise<void> {
    // Commits during the drain leave scheduling to it: its end looks at the lag and re-arms.
    this.armed = true;
    try {
      await this.drainOnce();
    } catch (error) {
      this.armed = false;
      throw error;
    }
  }

  private async drainOnce(): Promise<void> {
    await this.load();
    const state = this.state;
    if (!this.enabled || !state) return void (this.armed = false);
    this.counters.drains++;
    await this.clock.want("archive", Date.now() + WATCHDOG_MS);
    let budget = this.settings.rowsPerAlarm;
    try {
      await withDb(this.settings.db!, async (db) => {
        while (budget > 0) {
          const moved = await this.drainBatch(db, state);
          if (moved === 0) break;
          this.onProgress?.();
          budget -= moved;
        }
      });
    } catch (error) {
      this.failures++;
      this.counters.failures++;
      this.lastError = error instanceof Error ? error.message : String(error);
      const delay = retryDelayMs(this.failures, this.settings.retryBaseMs, this.settings.retryCapMs, Math.random);
      this.nextRetryAt = Date.now() + delay;
      await this.clock.want("archive", this.nextRetryAt);
      return;
    }
    this.failures = 0;
    this.lastError = undefined;
    this.nextRetryAt = undefined;
    if (budget <= 0 || state.cursor < this.core().committedSeq) {
      await this.clock.want("archive", Date.now() + (budget <= 0 ? 0 : this.settings.drainDelayMs));
    } else {
      this.armed = false;
      await this.clock.withdraw("archive");
      // A commit may have landed during the delete: it found `armed` set and left the scheduling to us.
      if (state.cursor < this.core().committedSeq) this.armDrain(state.roomId);
    }
  }

  /** History [from, before) as the room serves it: retained events from storage, older ones from the archive. */
  async history(from: number, before: number): Promise<string[]> {
    await this.load();
    const p0 = this.state?.prunedThrough ?? 0;
    const roomRange = splitRange(from, before, p0).room;
    const roomPart = roomRange ? await readEventsJson(this.storage, this.core(), roomRange[0], roomRange[1]) : [];
    // Pruning may have run while storage was read: take everything up to the newer floor from the archive.
    const p1 = this.state?.prunedThrough ?? 0;
    const archiveRange = splitRange(from, before, p1).archive;
    if (!archiveRange) return roomPart;
    if (!this.enabled) throw new ArchiveUnavailable("the archive is not configured");
    this.counters.archiveReads++;
    let rows: Array<{ seq: string | number; json: string }>;
    try {
      rows = (await withDb(this.settings.db!, (db) => db.query(READ_RANGE, [this.state!.roomId, archiveRange[0], archiveRange[1]]))).rows;
    } catch (error) {
      throw new ArchiveUnavailable(error instanceof Error ? error.message : String(error));
    }
    const kept = roomPart.filter((json) => seqOf(json) > p1);
    return [...rows.map((row) => row.json), ...kept];
  }

  /**
   * Records of scattered seqs (a thread page, quoted parents; PROTOCOL R22, R23), as readers may see them, in
   * the order asked: retained ones from storage, pruned ones from the archive. Unknown seqs are left out.
   */
  async records(seqs: number[]): Promise<string[]> {
    await this.load();
    const core = this.core();
    const wanted = seqs.filter((seq) => seq <= core.committedSeq);
    const stored = await getEventsJson(this.storage, core, wanted);
    const pruned = wanted.filter((seq) => !stored.has(seq) && seq <= (this.state?.prunedThrough ?? 0));
    if (pruned.length > 0) {
      if (!this.enabled) throw new ArchiveUnavailable("the archive is not configured");
      this.counters.archiveReads++;
      try {
        const { rows } = await withDb(this.settings.db!, (db) => db.query(READ_SEQS, [this.state!.roomId, pruned]));
        for (const row of rows as Array<{ seq: string | number; json: string }>) stored.set(Number(row.seq), row.json);
      } catch (error) {
        throw new ArchiveUnavailable(error instanceof Error ? error.message : String(error));
      }
    }
    return wanted.flatMap((seq) => (stored.has(seq) ? [stored.get(seq)!] : []));
  }

  /** How far back resume may replay: only what the room still stores (PROTOCOL I5). */
  replayable(resumeMaxEvents: number, committedSeq: number): number {
    return replayableEvents(resumeMaxEvents, committedSeq, this.state?.prunedThrough ?? 0);
  }

  stats(committedSeq: number) {
    if (!this.enabled) return { enabled: false };
    const cursor = this.state?.cursor ?? 0;
    return {
      enabled: true,
      cursor,
      lag: committedSeq - cursor,
      prunedThrough: this.state?.prunedThrough ?? 0,
      retentionEvents: this.settings.retentionEvents,
      failing: this.failures > 0,
      consecutiveFailures: this.failures,
      lastError: this.lastError ?? null,
      nextRetryAt: this.nextRetryAt ?? null,
      ...this.counters,
    };
  }

  /** One transaction: events after the cursor, their edit/delete targets' latest records, queued members. */
  private async drainBatch(db: Db, state: ArchiveState): Promise<number> {
    const core = this.core();
    const { from, to } = nextBatch(state.cursor, core.committedSeq, this.settings.batchRows);
    const queued = await this.storage.list<SeenMember>({ prefix: ARCHIVE_QUEUE_PREFIX, limit: 128 });
    if (to < from && queued.size === 0) return 0;
    const records = to >= from ? await readEventsJson(this.storage, core, from, to + 1) : [];
    if (records.length !== Math.max(0, to - from + 1)) throw new Error(`room log holds ${records.length} of the ${to - from + 1} events ${from}..${to}`);
    const rows = new Map<number, string>();
    const members = new Map<string, SeenMember>();
    /** Group membership as the batch's events leave it (user → joined at, left at or null). */
    const memberships = new Map<string, { id: string; ts: number; left: number | null }>();
    // A group's search members are the ones its events made, never anyone seen in it (PROTOCOL R14a):
    // queued sightings of a group room (written before this rule) are dequeued without a row.
    const seesMembers = roomKind(state.roomId) !== "group";
    if (seesMembers) for (const member of queued.values()) members.set(member.id, member);
    for (const json of records) {
      const event = JSON.parse(json) as MembershipFields & { seq: number; kind: string; ts: number; target?: number; thread?: number; author: { id: string } };
      rows.set(event.seq, json);
      if (seesMembers && !members.has(event.author.id)) members.set(event.author.id, { id: event.author.id, ts: event.ts });
      for (const [id, left] of membershipChanges(event)) memberships.set(id, { id, ts: event.ts, left: left ? event.ts : null });
      // An edit, deletion or reaction rewrote its target, a thread reply its parent (PROTOCOL R20, R23): the row follows (PROTOCOL I9).
      for (const rewritten of [event.target, event.kind === "message" ? event.thread : undefined]) {
        if (rewritten === undefined || rewritten >= from || rows.has(rewritten)) continue;
        const [target] = await readEventsJson(this.storage, core, rewritten, rewritten + 1);
        if (target !== undefined) rows.set(rewritten, target);
      }
    }
    let written = 0;
    await db.query("BEGIN");
    try {
      // rowCount counts rows inserted or changed: a retried batch whose rows are already there adds 0.
      if (rows.size > 0) written = (await db.query(UPSERT_EVENTS, [state.roomId, `[${[...rows.values()].join(",")}]`])).rowCount ?? 0;
      if (members.size > 0) await db.query(UPSERT_SEEN_MEMBERS, [state.roomId, JSON.stringify([...members.values()])]);
      if (memberships.size > 0) await db.query(UPSERT_EVENT_MEMBERS, [state.roomId, JSON.stringify([...memberships.values()])]);
      await db.query("COMMIT");
    } catch (error) {
      await db.query("ROLLBACK").catch(() => {});
      throw error;
    }
    this.counters.batches++;
    this.counters.rowsWritten += written;
    if (++this.commits === this.settings.testLoseReplyAt) {
      // Test-only switch: Postgres committed, but the room acts as if the reply never came. The retry
      // must change nothing (the upserts are idempotent).
      this.counters.replyLost++;
      throw new Error("test switch: the commit succeeded but its reply was lost");
    }
    this.counters.rows += rows.size;
    this.counters.members += queued.size;
    const next: ArchiveState = { ...state, cursor: Math.max(state.cursor, to) };
    const floor = pruneFloor(next, core.committedSeq, this.settings.retentionEvents);
    // Cursor and dequeued members in one coalesced write; then the prune below the confirmed floor.
    const writes = this.storage.put(ARCHIVE_STATE_KEY, { ...next, prunedThrough: state.prunedThrough });
    const dequeued = queued.size > 0 ? this.storage.delete([...queued.keys()]) : Promise.resolve(0);
    await Promise.all([writes, dequeued]);
    state.cursor = next.cursor;
    if (floor > state.prunedThrough) await this.prune(db, state, floor);
    return Math.max(1, rows.size);
  }

  private async prune(db: Db, state: ArchiveState, floor: number): Promise<void> {
    const start = state.prunedThrough + 1;
    // The floor moves first (in memory, then durably): from then on history reads these seqs from the
    // archive, which has them (floor <= cursor). A crash before the deletes leaves keys behind, never a gap.
    state.prunedThrough = floor;
    await this.storage.put(ARCHIVE_STATE_KEY, { ...state });
    for (let seq = start; seq <= floor; seq += 128) {
      const keys: string[] = [];
      for (let s = seq; s <= Math.min(floor, seq + 127); s++) keys.push(eventKey(s));
      // A record drained earlier may have been rewritten since by an event not drained yet (an edit, a
      // reaction, a thread reply: PROTOCOL R20, R23). Its latest durable version goes to the archive before the
      // room lets go of it, or that event's drain would find nothing to carry over (PROTOCOL I9). Unchanged
      // rows are skipped by the upsert's WHERE.
      const latest = await readEventsJson(this.storage, this.core(), seq, Math.min(floor, seq + 127) + 1);
      if (latest.length > 0) await db.query(UPSERT_EVENTS, [state.roomId, `[${latest.join(",")}]`]);
      await this.storage.delete(keys);
      this.counters.pruned += keys.length;
    }
  }
}

type MembershipFields = { action?: string; user?: string; members?: Array<{ id: string }> };

/** [user, left?] for each membership a group event changes (create, add, remove, leave). */
function membershipChanges(event: MembershipFields & { kind: string }): Array<[string, boolean]> {
  if (event.kind === "group" && event.action === "create") return (event.members ?? []).map((m) => [m.id, false]);
  if (event.kind !== "member" || !event.user) return [];
  if (event.action === "add") return [[event.user, false]];
  if (event.action === "remove" || event.action === "leave") return [[event.user, true]];
  return [];
}

function seqOf(json: string): number {
  return (JSON.parse(json) as { seq: number }).seq;
}
