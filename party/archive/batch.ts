/**
 * One drain transaction of a room's archive outbox (PROTOCOL I9), and the prune behind it: the events after
 * the cursor, the latest records of the messages they rewrote (edits, deletions, reactions, thread replies),
 * and the members the room queued, upserted in one Postgres transaction; only then does the cursor move
 * (durably), and only below the confirmed cursor are events deleted from the room. Scheduling (when a
 * drain runs, retries, the alarm) stays in archive/outbox.ts; this part only writes.
 */
import type * as Party from "partykit/server";
import type { RoomCore } from "../core/room-core.ts";
import { ARCHIVE_QUEUE_PREFIX, ARCHIVE_STATE_KEY, eventKey } from "../core/room-keys.ts";
import { roomKind } from "../protocol/room-kind.ts";
import { readEventsJson } from "../adapters/event-log.ts";
import type { ArchiveSettings } from "./config.ts";
import type { Db } from "./connection.ts";
import { nextBatch, pruneFloor } from "./plan.ts";
import { UPSERT_EVENTS, UPSERT_EVENT_MEMBERS, UPSERT_SEEN_MEMBERS } from "./sql.ts";

/** The outbox's `{roomId, cursor, prunedThrough}` under ARCHIVE_STATE_KEY. */
export type ArchiveState = { roomId: string; cursor: number; prunedThrough: number };
/** A user the room saw join, queued for the next drain (`aq:<user>`). */
export type SeenMember = { id: string; ts: number };
/** The outbox's counters this part moves (shown in the room's stats). */
type BatchCounters = { batches: number; rows: number; rowsWritten: number; members: number; replyLost: number; pruned: number };

export class DrainBatches {
  /** Transactions committed since start (the test switch `testLoseReplyAt` counts them). */
  private commits = 0;

  constructor(
    private readonly storage: Party.Storage,
    private readonly settings: ArchiveSettings,
    private readonly core: () => RoomCore,
    private readonly counters: BatchCounters,
  ) {}

  /** One transaction: events after the cursor, their edit/delete targets' latest records, queued members. */
  async next(db: Db, state: ArchiveState): Promise<number> {
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
