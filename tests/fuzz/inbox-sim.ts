/**
 * Fuzzing of the inbox's pure state (party/core/inbox-core.ts). Rooms send totally ordered snapshots
 * (lastSeq and readSeq only grow, PROTOCOL IB2) with the committed events a member has not confirmed; the
 * network delivers them late, twice and out of order. After every delivery: a notification that changes
 * nothing leaves the state byte-for-byte unchanged; lastSeq, readSeq and `delivered` never go back; every
 * event is passed to devices at most once and in seq order per room, and exactly the events above what was
 * passed before; totalUnread is the sum of the rows; once a room's newest snapshot has arrived its row is that
 * snapshot; paging the list returns every conversation once, newest activity first.
 */
import fc from "fast-check";
import { InboxCore } from "../../party/core/inbox-core.ts";
import type { Notification, RoomEvent } from "../../party/protocol/index.ts";
import { canonical } from "./canonical.ts";

const ROOMS = ["dm:alice:bob", "dm:alice:carol", "g:team"];

/** One room's snapshots in the room's order; each carries a contiguous tail of events ending at lastSeq. */
const timelineArb = (room: string) =>
  fc.array(fc.record({ grow: fc.nat({ max: 4 }), read: fc.nat({ max: 4 }), tail: fc.nat({ max: 5 }), ts: fc.nat({ max: 50 }) }), { minLength: 1, maxLength: 8 }).map((raw) => {
    let lastSeq = 0;
    let readSeq = 0;
    let lastTs = 1_000;
    return raw.map(({ grow, read, tail, ts }): Notification => {
      lastSeq += grow;
      readSeq = Math.min(lastSeq, readSeq + read);
      if (grow > 0) lastTs += ts + 1; // the last event's time: moves with lastSeq only
      const events: RoomEvent[] = [];
      for (let seq = Math.max(1, lastSeq - tail + 1); seq <= lastSeq; seq++) events.push({ kind: "message", seq, ts: seq, author: { id: "bob", name: "Bob" }, clientId: `m${seq}`, text: `t${seq}` });
      const peer = room.startsWith("dm:") ? room.split(":")[2]! : undefined;
      return {
        room,
        kind: room.startsWith("dm:") ? "dm" : "group",
        title: room,
        ...(peer ? { peer } : {}),
        lastSeq,
        lastTs,
        preview: null,
        readSeq,
        unread: lastSeq - readSeq,
        events,
      };
    });
  });

export const inboxScenarioArb = fc
  .tuple(...ROOMS.map((room) => timelineArb(room)))
  .chain((timelines) => {
    const all = timelines.flatMap((t, r) => t.map((_, i) => [r, i] as const));
    // Deliveries: every snapshot at least once (shuffled), plus repeats.
    return fc.tuple(fc.constant(timelines), fc.shuffledSubarray(all, { minLength: all.length, maxLength: all.length }), fc.array(fc.constantFrom(...all), { maxLength: 6 }), fc.nat());
  })
  .map(([timelines, order, repeats, seed]) => {
    const deliveries = [...order];
    repeats.forEach((d, i) => deliveries.splice((seed + i * 7) % (deliveries.length + 1), 0, d));
    return { timelines, deliveries };
  });

export function runInbox(scenario: { timelines: Notification[][]; deliveries: ReadonlyArray<readonly [number, number]> }): void {
  const core = new InboxCore();
  const passed = new Map<string, number>();
  const newest = new Map<string, number>();
  const fail = (message: string): never => {
    throw new Error(message);
  };
  for (const [r, i] of scenario.deliveries) {
    const n = structuredClone(scenario.timelines[r]![i]!);
    const old = core.get(n.room);
    const before = canonical(core);
    const result = core.apply(n);
    if (!result.changed && canonical(core) !== before) fail(`an ignored notification changed the inbox state (${n.room} #${i})`);
    const entry = core.get(n.room)!;
    if (old && (entry.lastSeq < old.lastSeq || entry.readSeq < old.readSeq || entry.delivered < old.delivered)) fail(`${n.room}: went back from ${JSON.stringify(old)} to ${JSON.stringify(entry)}`);
    const previous = passed.get(n.room) ?? 0;
    const wanted = n.events.filter((e) => e.seq > previous).map((e) => e.seq);
    if (JSON.stringify(result.fresh.map((e) => e.seq)) !== JSON.stringify(wanted)) fail(`${n.room}: passed ${result.fresh.map((e) => e.seq)} after ${previous}, expected ${wanted}`);
    if (wanted.length) passed.set(n.room, wanted.at(-1)!);
    if (entry.delivered !== (passed.get(n.room) ?? 0)) fail(`${n.room}: delivered ${entry.delivered}, passed up to ${passed.get(n.room)}`);
    newest.set(n.room, Math.max(newest.get(n.room) ?? -1, i));
    const top = scenario.timelines[r]![newest.get(n.room)!]!;
    const { events: _events, ...snapshot } = top;
    const { delivered: _delivered, ...row } = entry;
    // The newest snapshot seen so far is the row, up to snapshots equal in (lastSeq, readSeq).
    if (row.lastSeq !== snapshot.lastSeq || row.readSeq !== snapshot.readSeq) fail(`${n.room}: row ${JSON.stringify(row)}, newest snapshot ${JSON.stringify(snapshot)}`);
    let total = 0;
    for (const room of ROOMS) total += core.get(room)?.unread ?? 0;
    if (core.totalUnread() !== total) fail(`totalUnread ${core.totalUnread()}, rows sum to ${total}`);
  }
  // Paging: every conversation once, newest activity first.
  for (const limit of [1, 2, 50]) {
    const seen: string[] = [];
    let before: string | undefined;
    for (let pages = 0; pages < 10; pages++) {
      const page = core.page(before, limit);
      seen.push(...page.conversations.map((c) => c.cursor));
      if (!page.hasMore) break;
      before = page.conversations.at(-1)!.cursor;
    }
    const sorted = [...seen].sort().reverse();
    if (JSON.stringify(seen) !== JSON.stringify(sorted) || new Set(seen).size !== seen.length || seen.length !== newest.size) fail(`paging by ${limit}: ${seen.join(" ")}`);
  }
}
