/** RoomSignals: receipts, presence and typing batched per window; expiry without an interval. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { RoomSignals } from "../../party/core/room-signals.ts";

function harness(options: { alwaysNames?: boolean; listMaxUsers?: number } = {}) {
  let now = 0;
  const present = new Set<string>();
  const timers: Array<{ at: number; fn: () => void }> = [];
  const frames: any[] = [];
  const signals = new RoomSignals(
    { now: () => now, schedule: (fn, ms) => timers.push({ at: now + ms, fn }), broadcast: (f) => frames.push(JSON.parse(f)),
      connections: () => 3,
      isPresent: (u) => present.has(u),
      presentCount: () => present.size,
      presentUsers: () => [...present].sort(),
      alwaysNames: () => options.alwaysNames ?? false,
    },
    250,
    5000,
    options.listMaxUsers,
  );
  const advance = (ms: number) => {
    const until = now + ms;
    for (;;) {
      timers.sort((a, b) => a.at - b.at);
      const next = timers[0];
      if (!next || next.at > until) break;
      timers.shift();
      now = next.at;
      next.fn();
    }
    now = until;
  };
  return { signals, frames, advance, present, pendingTimers: () => timers.length };
}

describe("RoomSignals", () => {
  it("sends one receipts frame per window however many members read", () => {
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
