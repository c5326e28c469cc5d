/** RoomSignals: receipts, presence and typing batched per window; expiry without an interval. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { RoomSignals } from "../../party/core/room-signals.ts";

function harness(options: { lists?: () => boolean; connections?: () => number } = {}) {
  let now = 0;
  const present = new Set<string>();
  const timers: Array<{ at: number; fn: () => void }> = [];
  const frames: any[] = [];
  const signals = new RoomSignals(
    { now: () => now, schedule: (fn, ms) => timers.push({ at: now + ms, fn }), broadcast: (f) => frames.push(JSON.parse(f)), connections: options.connections ?? (() => 3), isPresent: (u) => present.has(u), listsPresence: options.lists ?? (() => true) },
    250,
    5000,
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

  it("gives an audience the count alone, and names people again once the room lists", () => {
    let lists = false;
    let sockets = 1_000;
    const { signals, frames, advance, present } = harness({ lists: () => lists, connections: () => sockets });
    for (let i = 0; i < 300; i++) {
      present.add(`v${i}`);
      signals.join(`v${i}`);
    }
    advance(0);
    assert.deepEqual(frames, [{ type: "presence", joined: [], left: [], count: 1_000, listed: false }]);
    lists = true;
    sockets = 99;
    present.delete("v1");
    signals.leave("v1");
    advance(250);
    assert.deepEqual(frames.at(-1), { type: "presence", joined: [], left: ["v1"], count: 99 });
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
