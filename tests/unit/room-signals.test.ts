/** RoomSignals: receipts, presence and typing batched per window; expiry without an interval. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { RoomSignals } from "../../party/core/room-signals.ts";
import { fakeClock } from "../helpers/fake-clock.ts";

function harness(options: { alwaysNames?: boolean; listMaxUsers?: number; audienceCountMs?: number; relays?: { sharded: boolean; viewers: number } } = {}) {
  const clock = fakeClock();
  const present = new Set<string>();
  const frames: any[] = [];
  const relays = options.relays;
  const signals = new RoomSignals(
    { now: clock.now, schedule: clock.schedule, broadcast: (f) => frames.push(JSON.parse(f)),
      // Sockets = present users (plus a sharded room's relay viewers) when a count is under test, else a fixed 3.
      connections: () => (relays ? present.size + relays.viewers : options.audienceCountMs === undefined ? 3 : present.size),
      isPresent: (u) => present.has(u),
      presentCount: () => present.size,
      presentUsers: () => [...present].sort(),
      alwaysNames: () => options.alwaysNames ?? false,
      countOnly: () => relays?.sharded === true,
    },
    250,
    5000,
    options.listMaxUsers,
    options.audienceCountMs,
  );
  return { signals, frames, advance: clock.advance, present, pendingTimers: clock.pending };
}

describe("RoomSignals", () => {
  it("sends one receipts frame per window however many members read (PROTOCOL R15)", () => {
    const { signals, frames, advance } = harness();
    for (let i = 0; i < 500; i++) signals.read(`u${i}`, 10 + (i % 7));
    signals.read("u0", 5); // never backwards within a window
    advance(0);
    assert.equal(frames.length, 1);
    assert.equal(Object.keys(frames[0].reads).length, 500);
    assert.equal(frames[0].reads.u0, 10);
    for (let i = 0; i < 500; i++) signals.read(`u${i}`, 20);
    advance(100);
    assert.equal(frames.length, 1, "the next window has not started");
    advance(200);
    assert.equal(frames.length, 2);
  });

  it("reports where each changed user ends up in the window, and the occupancy", () => {
    const { signals, frames, advance, present } = harness();
    present.add("a");
    signals.join("a");
    present.add("b");
    signals.join("b");
    // A client welcomed now sees b present; b then leaves within the same window: the frame must say so.
    present.delete("b");
    signals.leave("b");
    advance(0);
    assert.deepEqual(frames, [{ type: "presence", joined: ["a"], left: ["b"], count: 3 }]);
  });

  it("gives an audience the count alone, names again at 80% of the limit, and then names everyone", () => {
    const { signals, frames, advance, present } = harness({ listMaxUsers: 100 });
    const come = (user: string) => (present.add(user), signals.join(user));
    const go = (user: string) => (present.delete(user), signals.leave(user));
    for (let i = 0; i < 100; i++) come(`v${i}`);
    advance(0);
    assert.equal(frames.at(-1).joined.length, 100, "at the limit: named");
    come("v100");
    advance(250);
    assert.deepEqual(frames.at(-1), { type: "presence", joined: [], left: [], count: 3, listed: false });
    for (let i = 0; i < 20; i++) go(`v${i}`); // 81 present: still above 80% of the limit
    advance(250);
    assert.equal(frames.at(-1).listed, false);
    go("v20"); // 80 present: names again, all of them, since clients forgot theirs
    advance(250);
    const everyone = Array.from({ length: 80 }, (_, i) => `v${i + 21}`).sort();
    assert.deepEqual(frames.at(-1), { type: "presence", joined: everyone, left: [], count: 3 });
    go("v21");
    come("w");
    advance(250);
    assert.deepEqual(frames.at(-1), { type: "presence", joined: ["w"], left: ["v21"], count: 3 });
  });

  it("sends an audience's count at most once a second while viewers churn, and the final count after", () => {
    const { signals, frames, advance, present } = harness({ listMaxUsers: 100, audienceCountMs: 1000 });
    const come = (user: string) => (present.add(user), signals.join(user));
    const go = (user: string) => (present.delete(user), signals.leave(user));
    for (let i = 0; i < 150; i++) come(`v${i}`);
    advance(0);
    assert.deepEqual(frames.at(-1), { type: "presence", joined: [], left: [], count: 150, listed: false }, "entering audience mode is sent at once");
    const before = frames.length;
    const sentAt: number[] = [0];
    // 2.5 s of arrivals, one every 100 ms (the signal window alone would allow 10 frames).
    for (let t = 1; t <= 25; t++) {
      come(`w${t}`);
      const count = frames.length;
      advance(100);
      if (frames.length > count) sentAt.push(t * 100);
    }
    const counts = frames.slice(before);
    assert.equal(counts.length, 2, `count frames at ${sentAt.join(", ")} ms`);
    for (let i = 1; i < sentAt.length; i++) assert.ok(sentAt[i]! - sentAt[i - 1]! >= 1000, `count frames ${sentAt[i]! - sentAt[i - 1]!} ms apart`);
    assert.ok(counts.every((f, i) => f.count > (i === 0 ? 150 : counts[i - 1]!.count)), "each count frame carries the count of its moment");
    // The last arrivals (after the frame at 2,000 ms) wait for the next second: nothing else would send them.
    assert.notEqual(frames.at(-1).count, 175);
    advance(1000);
    assert.deepEqual(frames.at(-1), { type: "presence", joined: [], left: [], count: 175, listed: false }, "the final count arrives once churn stops");
    // Leaving audience mode is not held back: 80 present, names at the next window, not at the next count.
    go("w25");
    advance(100);
    for (let i = 0; i < 94; i++) go(`v${i}`);
    const count = frames.length;
    advance(250);
    assert.equal(present.size, 80);
    assert.equal(frames.length, count + 1, "names again within one window of the count frame");
    assert.equal(frames.at(-1).joined.length, 80);
  });

  it("PROTOCOL R52: a sharded live room sends the stream's count alone, however few are present, when its relays' viewers change", () => {
    const relays = { sharded: true, viewers: 0 };
    const { signals, frames, advance, present } = harness({ listMaxUsers: 100, audienceCountMs: 1000, relays });
    present.add("host");
    signals.join("host");
    advance(0);
    assert.deepEqual(frames, [{ type: "presence", joined: [], left: [], count: 1, listed: false }], "one present user, still not named: the relays' viewers cannot be");
    relays.viewers = 2_500;
    signals.audienceChanged();
    advance(999);
    assert.equal(frames.length, 1, "at most one count a second");
    advance(1);
    assert.deepEqual(frames.at(-1), { type: "presence", joined: [], left: [], count: 2_501, listed: false });
    // A relay's count that moves and comes back within the second, and a join and leave that cancel out: no frame.
    relays.viewers = 2_600;
    signals.audienceChanged();
    relays.viewers = 2_500;
    signals.audienceChanged();
    present.add("ops");
    signals.join("ops");
    present.delete("ops");
    signals.leave("ops");
    advance(5_000);
    assert.equal(frames.length, 2, "the count did not change: nothing to say");
    // Unsharded again (the operator set 0 shards; the relays' viewers moved to the room): names come back.
    relays.sharded = false;
    relays.viewers = 0;
    signals.audienceChanged();
    advance(1_000);
    assert.deepEqual(frames.at(-1), { type: "presence", joined: ["host"], left: [], count: 1 });
  });

  it("PROTOCOL R52: the snapshot a relay is greeted with: the count and who types now", () => {
    const relays = { sharded: true, viewers: 40 };
    const { signals, advance, present } = harness({ listMaxUsers: 100, relays });
    present.add("hana");
    signals.typing("hana");
    assert.deepEqual(signals.snapshot().map((f) => JSON.parse(f)), [
      { type: "presence", joined: [], left: [], count: 41, listed: false },
      { type: "typing", users: ["hana"] },
    ]);
    advance(6_000);
    assert.deepEqual(JSON.parse(signals.snapshot()[1]!), { type: "typing", users: [] }, "an expired typer is not in it");
  });

  it("names everyone in a group however many are present", () => {
    const { signals, frames, advance, present } = harness({ listMaxUsers: 100, alwaysNames: true });
    for (let i = 0; i < 300; i++) (present.add(`m${i}`), signals.join(`m${i}`));
    advance(0);
    assert.equal(frames.at(-1).joined.length, 300);
    assert.equal(frames.at(-1).listed, undefined);
  });

  it("shows typing, refreshes it, and expires it about 5 s after the last signal, then stops its timers", () => {
    const { signals, frames, advance, pendingTimers } = harness();
    signals.typing("a");
    advance(0);
    assert.deepEqual(frames.at(-1), { type: "typing", users: ["a"] });
    advance(3000);
    signals.typing("a"); // a refresh changes nothing visible: no frame
    advance(300);
    assert.equal(frames.filter((f) => f.type === "typing").length, 1);
    advance(4000);
    assert.equal(frames.filter((f) => f.type === "typing").length, 1, "still typing 4.3 s after the refresh");
    advance(1500);
    assert.deepEqual(frames.at(-1), { type: "typing", users: [] });
    advance(60_000);
    assert.equal(pendingTimers(), 0, "no timer keeps an idle room awake");
    signals.typing("b");
    signals.leave("b");
    advance(0);
    assert.equal(frames.filter((f) => f.type === "typing").length, 2, "typing and leaving in one window sends nothing new");
  });
});
