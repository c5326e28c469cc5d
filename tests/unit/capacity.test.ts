/**
 * The capacity model's arithmetic (scripts/capacity/model.ts) on small cases worked by hand in the
 * comments, with the inputs' published and measured values (scripts/capacity/inputs.ts) unless a test
 * overrides one; and the CLI's output for the issue's case.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { describe, it } from "node:test";
import { INPUTS, inputValues } from "../../scripts/capacity/inputs.ts";
import {
  DEFAULT_WORKLOAD,
  SECONDS_PER_MONTH,
  archiveShardsFor,
  costOf,
  dmScenario,
  gbSecondsPerSec,
  groupScenario,
  ladder,
  liveScenario,
  liveTodayLimits,
  shardSize,
  type Workload,
} from "../../scripts/capacity/model.ts";

const ROOT = join(import.meta.dirname, "..", "..");
const close = (actual: number, expected: number, what: string) => assert.ok(Math.abs(actual - expected) <= 1e-9 * Math.max(1, Math.abs(expected)), `${what}: ${actual} != ${expected}`);

describe("inputs", () => {
  it("every input has a unit, a source and a kind; prices and limits name their page and date", () => {
    for (const [name, input] of Object.entries(INPUTS)) {
      assert.ok(input.unit && input.source && input.what, name);
      if (input.kind === "price" || input.kind === "limit") assert.match(input.source, /20\d\d-\d\d-\d\d/, `${name}: a dated source`);
    }
    assert.equal(inputValues().doRequestUsdPerM, 0.15);
    assert.equal(inputValues({ doRequestUsdPerM: 0.2 }).doRequestUsdPerM, 0.2);
    assert.throws(() => inputValues({ noSuchInput: 1 }), /not an input of the model/);
  });
});

describe("1:1 chat, by hand", () => {
  // 6,000 DAU x 14.4 messages = 86,400 a day: 1 DM/s on average, 2/s at peak (x2). 600 users connected,
  // one device each, each socket replaced every 10 min: 600 / 600 s = 1 connect/s.
  const w: Workload = { ...DEFAULT_WORKLOAD, dau: 6_000, concurrent: 600, msgsPerUserPerDay: 14.4, peakFactor: 2, devicesPerUser: 1 };
  const i = inputValues({ sessionMinutes: 10 });
  const s = dmScenario(w, i);
  const u = s.usage;

  it("rates: messages, pings, requests, rows, growth", () => {
    close(u.msgsPerSec, 1, "msgs/s");
    close(u.peakMsgsPerSec, 2, "peak");
    // Each socket hears 2 frames per DM pair over 600 sockets: 1/300 per second; silent the rest of a 20 s
    // heartbeat: 1/20 - 1/300 = 14/300 pings per socket, x 600 = 28/s.
    close(u.wsInPerSec, 1 + 28, "WebSocket messages in: 1 send + 28 pings");
    // 3 actor calls + 1 archive drain alarm per DM, + 1 socket upgrade per connect.
    close(u.doRequestsPerSec, 3 + 1 + 1, "DO requests");
    close(u.workerRequestsPerSec, 1, "Worker requests: the upgrades");
    // Room write 3 rows + 3 inbox writes x 3 rows + 1 setAlarm + 1 archive cursor per drain.
    close(u.rowsWrittenPerSec, 3 + 9 + 1 + 1, "rows written");
    close(u.doGrowthGBPerDay, (86_400 * 600) / 1e9, "DO storage growth");
    close(u.archiveGrowthGBPerDay, 0.108, "archive growth: 86,400 rows x 1,250 B");
    close(u.directoryReportsPerSec, 4, "directory: 2 reports per DM room at 2/s peak");
  });

  it("duration: every connected inbox all the time without hibernation, only its work with it", () => {
    // Inboxes: 3 writes x 10 ms + 28 pings x 1 ms + 1 connect x 5 ms = 63 ms/s; DM rooms: 10 ms write + 30 ms drain.
    close(u.actors[0]!.busySecondsPerSec, 0.063, "inbox work");
    close(u.actors[1]!.busySecondsPerSec, 0.04, "room work");
    close(gbSecondsPerSec(u.actors, i, false), 0.128 * (600 + 0.04), "GB-s/s, hibernation off");
    close(gbSecondsPerSec(u.actors, i, true), 0.128 * (0.063 + 0.04), "GB-s/s, hibernation on");
  });

  it("the monthly bill, line by line", () => {
    const m = SECONDS_PER_MONTH; // 2,592,000 s
    const off = s.costs.month1.hibernateOff;
    close(off.workers, 5, "Workers: the plan; 2.6M requests and 2.6M CPU ms are inside the included 10M and 30M");
    close(off.doRequests, (((5 + 29 / 20) * m - 1e6) / 1e6) * 0.15, "DO requests: (5 + 29/20)/s = 16,718,400 a month, 1M included");
    close(off.doRequests, 2.35776, "DO requests in dollars");
    close(off.doDuration, ((0.128 * 600.04 * m - 400_000) / 1e6) * 12.5, "duration");
    close(off.doDuration, 2_483.485888, "duration in dollars");
    close(off.doRowsWritten, 0, "rows: 36,288,000 inside the included 50M");
    close(off.doStorage, 0, "storage: 0.78 GB-month inside the included 5");
    close(off.neonCompute, 0.25 * 720 * 0.222, "Neon: the smallest compute all month");
    close(off.neonStorage, 0.108 * 30 * 0.5 * 0.35, "Neon storage: half a month's growth");
    close(off.total, 5 + 2.35776 + 2_483.485888 + 39.96 + 0.567, "total");
    close(s.costs.month1.hibernateOn.doDuration, 0, "hibernation on: 34,173 GB-s inside the included 400,000");
    const year = s.costs.month12.hibernateOff;
    close(year.doStorage, (0.05184 * 30 * 11.5 - 5) * 0.2, "month 12: 11.5 months of growth");
    close(year.neonStorage, 0.108 * 30 * 11.5 * 0.35, "Neon storage, month 12");
    assert.equal(s.archiveShards, 1);
  });
});

describe("groups, by hand", () => {
  // 100 DAU in one group each of 10: 10 groups; 50 connected (5 viewers, 5 online members per group);
  // 864 messages per user a day = 86,400 a day: 1/s, 0.1/s per group (peak factor 1).
  const w: Workload = { ...DEFAULT_WORKLOAD, dau: 100, concurrent: 50, msgsPerUserPerDay: 864, peakFactor: 1, groupSize: 10, groupsPerUser: 1 };
  const i = inputValues();

  it("today: every other member's inbox is called for each message", () => {
    const u = groupScenario(w, i, "today").usage;
    // 0.1 msg/s per group never shares a 100 ms window: 9 calls per message.
    const calls = 9;
    const connects = 100 / 1_800; // 50 room + 50 inbox sockets, each replaced every 30 min
    close(u.doRequestsPerSec, calls + 1 + connects, "9 inbox calls + 1 drain + upgrades");
    // Room: 3 rows + setAlarm; each call: 3 inbox rows + the room's cursor for that member; + drain cursor.
    close(u.rowsWrittenPerSec, 3 + 1 + calls * 4 + 1, "rows written");
    // Viewers hear 0.1 frame/s: more than one per 20 s, so they never ping; the 50 inbox sockets ping 1/20 s each.
    close(u.wsInPerSec, 1 + 2.5, "1 send + 2.5 pings");
    close(u.wsOutPerSec, 1 * (5 + 1) + 2.5, "5 viewers + the ack per message, + 2.5 pongs");
  });

  it("proposed: only the online members, at most once per 10 s", () => {
    const u = groupScenario(w, i, "proposed").usage;
    // 5 online members, 4 besides the sender; 0.1 msg/s x 10 s = 1 message per window: 4 calls.
    close(u.doRequestsPerSec, 4 + 1 + 100 / 1_800, "4 inbox calls + 1 drain + upgrades");
  });
});

describe("live streams, by hand", () => {
  const i = inputValues();

  it("shard size: the tightest of memory, sends and the reconnect storm", () => {
    // Memory: 128 MB x 0.75 x 1024 / 171 KB = 574.9; sends: 0.5 s/s / 46 µs / 10 ticks = 1,086.9; storm: 10 s / 2 ms = 5,000.
    assert.deepEqual(shardSize(i, false), { size: 574, byMemory: 574, bySends: 1_086, byStorm: 5_000 });
    assert.equal(shardSize(i, true).size, 1_086, "with hibernation the send budget binds");
  });

  it("requests of two streams of 1,000 viewers", () => {
    // 2,000 connected, streams of 1,000: 2 streams; 10% post (100 sockets: one shard each); 5 msgs/s each.
    const w: Workload = { ...DEFAULT_WORKLOAD, dau: 10_000, concurrent: 2_000, viewersPerStream: 1_000, posterFraction: 0.1, streamMsgsPerSec: 5 };
    const u = liveScenario(w, i).usage;
    close(u.msgsPerSec, 10, "2 streams x 5 msgs/s");
    // Posts forwarded 10 + relay 2 streams x 1 shard x 10/s + cache misses 2 x 330 + drains 2 x min(5, 1000/200) + upgrades 200/1,800.
    close(u.doRequestsPerSec, 10 + 20 + 660 + 10 + 200 / 1_800, "DO requests");
    close(u.cdnRequestsPerSec, (2 * 900) / 2, "900 readers per stream polling every 2 s");
    close(u.wsOutPerSec, 200 * 10, "each poster's socket gets one frame per relay tick");
  });

  it("today's single room: memory, sends and the storm", () => {
    const w: Workload = { ...DEFAULT_WORKLOAD, concurrent: 1_000, dau: 5_000, viewersPerStream: 100_000, streamMsgsPerSec: 5 };
    const byId = Object.fromEntries(liveTodayLimits(w, i).map((l) => [l.id, l]));
    close(byId["room-memory"]!.utilisation, 1_000 / 574, "1,000 sockets of 574");
    close(byId["room-sends"]!.utilisation, (1_000 * 5) / (0.5e6 / 46), "5,000 sends/s of 10,870");
    close(byId["reconnect-storm"]!.used, 2, "1,000 x 2 ms");
  });
});

describe("costs and limits", () => {
  it("Neon computes: one per 16 CU of peak write rate", () => {
    const i = inputValues();
    assert.equal(archiveShardsFor(0, i), 0);
    assert.equal(archiveShardsFor(16 * 2_754, i), 1);
    assert.equal(archiveShardsFor(16 * 2_754 + 1, i), 2);
  });

  it("included allowances are subtracted once, never below zero", () => {
    const i = inputValues();
    const none = costOf(dmScenario({ ...DEFAULT_WORKLOAD, dau: 1, concurrent: 1, msgsPerUserPerDay: 0 }, i).usage, i, true, 1, 0);
    assert.equal(none.total, 5, "an idle deployment costs the Workers plan");
  });

  it("the ladder: the one directory actor is the first wall of 1:1 chat, at ~72,000 connected users", () => {
    // 2 reports per DM at peak reach 1,000/s at 500 DMs/s peak = 166.7/s average = 14.4M a day = 360,000 DAU at
    // 40 each = 72,000 concurrent at 5 DAU per connected user; the scan's step at or above it: 10^(98/20) = 79,433.
    const steps = ladder(DEFAULT_WORKLOAD, inputValues());
    const at = (concurrent: number, shape: string) => steps.find((s) => s.concurrent === concurrent)!.shapes.find((e) => e.scenario === shape)!;
    assert.equal(at(1_000, "1:1 chat").first, undefined);
    assert.equal(at(100_000, "1:1 chat").first?.id, "directory");
    assert.equal(at(100_000, "1:1 chat").first?.breaksAt, 79_433);
    assert.equal(at(1_000, "live, today (one room)").first?.id, "room-sends");
    assert.notEqual(at(10_000_000, "1:1 chat").first?.id, "directory", "each step names a new limit");
  });
});

describe("the CLI", () => {
  it("prints the issue's case, and refuses bad flags", () => {
    const run = spawnSync(process.execPath, ["--import", "tsx", join(ROOT, "scripts", "capacity.ts"), "--dau", "50000000", "--concurrent", "10000000"], { cwd: ROOT, encoding: "utf8" });
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /^kaiwa capacity model: 50,000,000 DAU, 10,000,000 concurrent/);
    for (const heading of ["== 1:1 chat", "== groups of 500 (today", "== groups of 500 (proposed", "== live streams of 100,000 viewers", "== The first limit to break"]) assert.ok(run.stdout.includes(heading), heading);
    const bad = spawnSync(process.execPath, ["--import", "tsx", join(ROOT, "scripts", "capacity.ts"), "--dau", "lots"], { cwd: ROOT, encoding: "utf8" });
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /--dau: expected a number >= 0/);
  });
});
