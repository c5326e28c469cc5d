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
 *
 * This file schedules drains and serves reads; one drain transaction and the prune are archive/batch.ts.
 */
import type * as Party from "partykit/server";
import type { RoomCore } from "../core/room-core.ts";
import { ARCHIVE_STATE_KEY, archiveMemberKey, archiveQueueKey } from "../core/room-keys.ts";
import { getEventsJson, readEventsJson } from "../adapters/event-log.ts";
import type { ArchiveSettings } from "./config.ts";
import type { AlarmClock } from "../adapters/alarm-clock.ts";
import { withDb } from "./connection.ts";
import { replayableEvents, retryDelayMs, splitRange } from "./plan.ts";
import { READ_RANGE, READ_SEQS } from "./sql.ts";
import { DrainBatches, type ArchiveState, type SeenMember } from "./batch.ts";

/** If a drain has not re-armed by then (the room was evicted mid-drain), the alarm starts another. */
const WATCHDOG_MS = 60_000;


export class ArchiveUnavailable extends Error {}

export class RoomArchive {
  private state: ArchiveState | undefined;
  private loaded = false;
  /** An alarm is set (drain soon, or a retry after backoff): commits need not set another. */
  private armed = false;
  private failures = 0;
  private lastError: string | undefined;
  private nextRetryAt: number | undefined;
  private draining = false;
  private readonly knownMembers = new Set<string>();
  private readonly batches: DrainBatches;
  readonly counters = { drains: 0, batches: 0, rows: 0, rowsWritten: 0, members: 0, failures: 0, replyLost: 0, pruned: 0, archiveReads: 0 };
  /** Called after a batch moved the cursor: the room re-reports its archive lag to the directory. */
  onProgress: (() => void) | undefined;

  constructor(
    private readonly storage: Party.Storage,
    private readonly settings: ArchiveSettings,
    private readonly core: () => RoomCore,
    /** The room's one alarm, shared with other users of it (party/adapters/alarm-clock.ts). */
    private readonly clock: AlarmClock,
  ) {
    this.batches = new DrainBatches(storage, settings, core, this.counters);
  }

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
          const moved = await this.batches.next(db, state);
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
}

function seqOf(json: string): number {
  return (JSON.parse(json) as { seq: number }).seq;
}
