/**
 * The dashboard's chart history, pure parts: quantiles from histogram buckets (hand-worked), per-report
 * histogram deltas across restarts, the slotted ring (carry-forward, gaps, bounds, a clock that steps back)
 * and the directory's incremental totals and per-room rings.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { countsSince, quantileMs } from "../../party/core/histogram.ts";
import { ChartRing } from "../../party/core/chart-ring.ts";
import { DirectoryCharts, chartSettings } from "../../party/directory/charts.ts";
import type { HistogramSnapshot, RoomEntry } from "../../party/protocol/admin-schema.ts";

const B = [1, 2, 5, 10];

test("quantiles interpolate inside their bucket, as histogram_quantile does", () => {
  assert.equal(quantileMs(B, [0, 10, 0, 0, 0], 0.5), 1.5); // rank 5 of 10 in (1, 2]
  assert.equal(quantileMs(B, [0, 10, 0, 0, 0], 0.99), 1.99);
  assert.equal(quantileMs(B, [50, 0, 50, 0, 0], 0.5), 1); // the top of the first bucket
  assert.equal(Math.round(quantileMs(B, [50, 0, 50, 0, 0], 0.99)! * 100) / 100, 4.94); // 2 + 3 × 49/50
  assert.equal(quantileMs(B, [0, 0, 0, 0, 7], 0.5), 10, "above the last bound reports that bound");
  assert.equal(quantileMs(B, [0, 0, 0, 0, 0], 0.5), undefined, "no observations, no quantile");
});

test("histogram deltas: within one process the difference, after a restart everything", () => {
  const h = (counts: number[]): HistogramSnapshot => ({ bucketsMs: B, counts, sumMs: 0, count: counts.reduce((a, b) => a + b, 0) });
  assert.deepEqual(countsSince(h([1, 2, 0, 0, 0]), h([3, 2, 1, 0, 0]), true), [2, 0, 1, 0, 0]);
  assert.deepEqual(countsSince(h([1, 2, 0, 0, 0]), h([1, 0, 0, 0, 0]), false), [1, 0, 0, 0, 0], "another bootId");
  assert.deepEqual(countsSince(h([5, 5, 0, 0, 0]), h([1, 0, 0, 0, 0]), true), [1, 0, 0, 0, 0], "fewer observations: a reset");
  assert.deepEqual(countsSince(undefined, h([0, 4, 0, 0, 0]), true), [0, 4, 0, 0, 0], "a room new to the directory");
});

test("the ring: gauges carry forward, latency gaps stay gaps, the window is bounded", () => {
  const ring = new ChartRing(1000, 5, B);
  ring.record(100, { connections: 2, messagesPerSecond: 10, archiveLag: 3 }, [0, 10, 0, 0, 0], 0);
  ring.record(600, { connections: 3, messagesPerSecond: 12, archiveLag: 1 }, [0, 0, 0, 0, 0], 4);
  ring.record(2400, { connections: 1, messagesPerSecond: 0, archiveLag: 0 }, [10, 0, 0, 0, 0], 1);
  const read = ring.read(3100);
  assert.deepEqual(read.t, [0, 1000, 2000, 3000]);
  assert.deepEqual(read.connections, [3, 3, 1, 1], "the last report of a slot wins; silent slots carry it");
  assert.deepEqual(read.messagesPerSecond, [12, 12, 0, 0]);
  assert.deepEqual(read.archiveLag, [1, 1, 0, 0]);
  assert.deepEqual(read.errorsPerSecond, [4, 0, 1, 0]);
  assert.deepEqual(read.ackP50Ms, [1.5, null, 0.5, null], "a slot without acks has no latency");
  assert.deepEqual(read.ackP99Ms, [1.99, null, 0.99, null]);

  // A clock that steps back adds to the newest slot; a long silence fills only the window.
  ring.record(2900, { connections: 4, messagesPerSecond: 1, archiveLag: 0 }, undefined, 2);
  assert.deepEqual(ring.read(3100).errorsPerSecond.at(-1), 2);
  const late = ring.read(1_000_000);
  assert.deepEqual(late.t, [996_000, 997_000, 998_000, 999_000, 1_000_000]);
  assert.deepEqual(late.connections, [4, 4, 4, 4, 4]);
  assert.deepEqual(late.ackP50Ms, [null, null, null, null, null]);
  assert.deepEqual(new ChartRing(1000, 5, B).read(5000).t, [], "nothing reported, nothing drawn");
});

function entry(room: string, over: Partial<RoomEntry> = {}): RoomEntry {
  return {
    room,
    kind: "room",
    bootId: "b1",
    epoch: "e",
    lastSeq: 0,
    connections: 0,
    observers: 0,
    messagesTotal: 0,
    messagesPerSecond: 0,
    errors: {},
    ackLatency: { bucketsMs: [1, 2, 5], counts: [0, 0, 0, 0], sumMs: 0, count: 0 },
    archiveLag: 0,
    reportFailures: 0,
    updatedAt: 0,
    ...over,
  };
}

test("directory charts: totals follow each room's latest report, per-room rings are bounded", () => {
  const charts = new DirectoryCharts({ slotMs: 1000, windowMs: 10_000, maxRooms: 2 });
  const a1 = entry("a", { connections: 3, messagesPerSecond: 5, errors: { bad_frame: 2 }, ackLatency: { bucketsMs: [1, 2, 5], counts: [0, 4, 0, 0], sumMs: 6, count: 4 } });
  charts.report(undefined, a1, 500);
  const b1 = entry("b", { connections: 2, archiveLag: 7, errors: { banned: 1 } });
  charts.report(undefined, b1, 700);
  const a2 = { ...a1, connections: 1, messagesPerSecond: 0, errors: { bad_frame: 5 }, ackLatency: { bucketsMs: [1, 2, 5], counts: [0, 4, 6, 0], sumMs: 30, count: 10 } };
  charts.report(a1, a2, 1500);
  assert.deepEqual(charts.overview(2000), {
    rooms: 2,
    connections: 3,
    observers: 0,
    messagesPerSecond: 0,
    archiveLag: 7,
    reportFailures: 0,
    errorsTotal: 6,
    errors: { bad_frame: 5, banned: 1 },
    at: 2000,
  });
  const system = charts.series(undefined, undefined, 2000);
  assert.deepEqual(system.t, [0, 1000, 2000]);
  assert.deepEqual(system.connections, [5, 3, 3]);
  assert.deepEqual(system.errorsPerSecond, [3, 3, 0], "errors in the slot: 2 + 1, then 5 - 2");
  assert.deepEqual(system.ackP50Ms, [1.5, 3.5, null], "the second report's own acks only: 6 in (2, 5]");
  const room = charts.series("a", a2, 2000);
  assert.equal(room.room, "a");
  assert.deepEqual(room.connections, [3, 1, 1]);
  assert.deepEqual(room.errorsPerSecond, [2, 3, 0]);

  // A restart (new bootId): the new process's counters are all new, not negative.
  const a3 = { ...a2, bootId: "b2", errors: { bad_frame: 1 }, ackLatency: { bucketsMs: [1, 2, 5], counts: [1, 0, 0, 0], sumMs: 1, count: 1 } };
  charts.report(a2, a3, 2100);
  assert.equal(charts.series("a", a3, 2200).errorsPerSecond.at(-1), 1);
  assert.deepEqual(charts.overview(2200).errors, { bad_frame: 1, banned: 1 });

  // A third room pushes out the room reported least recently ("b"); asked for again, it starts at its last report.
  charts.report(undefined, entry("c", { connections: 9 }), 3000);
  const b = charts.series("b", b1, 4000);
  assert.deepEqual(b.t, [4000], "b's history was dropped; its chart restarts now");
  assert.deepEqual(b.archiveLag, [7]);
  assert.deepEqual(charts.series("a", a3, 4000).t.length > 1, false, "seeding b pushed out a, the least recent");
});

test("chart slots follow the report interval, never under a second", () => {
  assert.deepEqual(chartSettings(200), { slotMs: 1000, windowMs: 600_000, maxRooms: 256 });
  assert.equal(chartSettings(2000).slotMs, 2000);
});
