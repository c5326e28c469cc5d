/** NotifyCoalescer and friends: who a room owes an inbox call, which calls a tick makes, what they carry (PROTOCOL IB2). */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  COALESCE_MS,
  GROUP_COALESCE_MS,
  MAX_CALLS_IN_FLIGHT,
  NotifyCoalescer,
  RecentEvents,
  commitDelay,
  cursorOf,
  eventRange,
  isBehind,
  notifyBody,
  retryDelay,
  type Snapshot,
} from "../../party/core/notify-coalescing.ts";
import { LIMITS, NotifyBody } from "../../party/protocol/index.ts";

const snap = (lastSeq: number, readSeq = 0, unread = 0): Snapshot => ({
  room: "dm:alice:bob",
  kind: "dm",
  title: "bob",
  peer: "bob",
  lastSeq,
  lastTs: 1000 + lastSeq,
  preview: null,
  readSeq,
  unread,
});

describe("isBehind and cursorOf", () => {
  it("a member with nothing confirmed is behind once the room has anything for them", () => {
    assert.equal(isBehind(undefined, snap(0)), false);
    assert.equal(isBehind(undefined, snap(1, 0, 1)), true);
    assert.equal(isBehind(undefined, snap(0, 0, 1)), true);
  });

  it("is behind on a newer seq, any other read position or any other unread count", () => {
    const cursor = cursorOf(snap(5, 3, 2));
    assert.deepEqual(cursor, { seq: 5, readSeq: 3, unread: 2 });
    assert.equal(isBehind(cursor, snap(5, 3, 2)), false);
    assert.equal(isBehind(cursor, snap(6, 3, 2)), true);
    assert.equal(isBehind(cursor, snap(5, 4, 2)), true);
    assert.equal(isBehind(cursor, snap(5, 3, 1)), true);
    // A snapshot behind the cursor's seq (never happens: lastSeq only grows) is not "behind".
    assert.equal(isBehind(cursor, snap(4, 3, 2)), false);
  });
});

describe("eventRange", () => {
  it("carries the events above what the inbox confirmed", () => {
    assert.deepEqual(eventRange(0, 3), { from: 1, before: 4 });
    assert.deepEqual(eventRange(2, 3), { from: 3, before: 4 });
    assert.equal(eventRange(3, 3), undefined);
    assert.equal(eventRange(0, 0), undefined);
  });

  it("carries only the newest notifyMaxEvents: a device that sees a gap syncs", () => {
    const max = LIMITS.notifyMaxEvents;
    assert.deepEqual(eventRange(0, max + 50), { from: 51, before: max + 51 });
    const range = eventRange(10, 10 + max * 3)!;
    assert.equal(range.before - range.from, max);
  });
});

describe("notifyBody", () => {
  it("is one notification, the snapshot with the stored events' JSON, valid for the inbox", () => {
    const events = [1, 2].map((seq) => JSON.stringify({ kind: "message", seq, ts: 1000 + seq, author: { id: "bob", name: "Bob" }, clientId: `c${seq}`, text: "hi" }));
    const parsed = NotifyBody.parse(JSON.parse(notifyBody(snap(2, 0, 2), events)));
    assert.equal(parsed.notifications.length, 1);
    assert.deepEqual(parsed.notifications[0]!.events.map((e) => e.seq), [1, 2]);
    assert.equal(parsed.notifications[0]!.lastSeq, 2);
    assert.deepEqual(JSON.parse(notifyBody(snap(2), [])), { notifications: [{ ...snap(2), events: [] }] });
  });
});

describe("commitDelay and retryDelay", () => {
  it("a DM notifies at once, a group waits so a burst becomes one call", () => {
    assert.equal(commitDelay(2), COALESCE_MS);
    assert.equal(commitDelay(1), COALESCE_MS);
    assert.equal(commitDelay(3), GROUP_COALESCE_MS);
  });

  it("full jitter: random × min(30 s, 100 ms × 2^failures), the exponent capped at 9", () => {
    assert.equal(retryDelay(1, 0), 0);
    assert.equal(retryDelay(1, 0.5), 100);
    assert.equal(retryDelay(3, 0.5), 400);
    assert.equal(retryDelay(9, 0.999), Math.round(0.999 * 30_000));
    assert.equal(retryDelay(50, 0.5), 15_000);
  });
});

describe("RecentEvents", () => {
  const ev = (seq: number) => ({ seq, json: `{"seq":${seq}}` });

  it("answers a range only when every event in it is kept", () => {
    const recent = new RecentEvents(4);
    assert.equal(recent.pick(1, 2), undefined);
    recent.add([ev(3), ev(4), ev(5)]);
    assert.deepEqual(recent.pick(3, 6), [ev(3).json, ev(4).json, ev(5).json]);
    assert.deepEqual(recent.pick(4, 5), [ev(4).json]);
    assert.equal(recent.pick(2, 6), undefined, "seq 2 was never kept");
    assert.equal(recent.pick(4, 7), undefined, "seq 6 is not committed yet");
  });

  it("keeps between `kept` and twice that many, the newest", () => {
    const recent = new RecentEvents(3);
    recent.add([1, 2, 3, 4, 5, 6].map(ev));
    assert.deepEqual(recent.pick(1, 2), [ev(1).json], "six kept: not over twice three");
    recent.add([ev(7)]);
    assert.equal(recent.pick(4, 5), undefined, "trimmed to the newest three");
    assert.deepEqual(recent.pick(5, 8), [5, 6, 7].map((s) => ev(s).json));
  });
});

describe("NotifyCoalescer", () => {
  it("one timer at a time: claimed until it fires", () => {
    const c = new NotifyCoalescer({});
    assert.equal(c.claimTimer(), true);
    assert.equal(c.claimTimer(), false);
    c.due(() => true);
    assert.equal(c.claimTimer(), true);
  });

  it("a tick calls the dirty members that are behind, once each, and drops the others", () => {
    const c = new NotifyCoalescer({ bob: { seq: 4, readSeq: 0, unread: 0 } });
    assert.equal(c.confirmedSeq("bob"), 4);
    assert.equal(c.confirmedSeq("alice"), 0);
    c.markDirty("alice");
    c.markDirty("bob");
    c.markDirty("alice");
    assert.deepEqual(c.due((u) => u === "alice"), ["alice"]);
    assert.equal(c.hasDirty(), false, "bob was not behind: dropped, not kept dirty");
    assert.deepEqual(c.idle(["alice", "bob"]), ["bob"]);
  });

  it("keeps a member with a call in flight dirty, and never has more than MAX_CALLS_IN_FLIGHT calls", () => {
    const c = new NotifyCoalescer({});
    const users = Array.from({ length: MAX_CALLS_IN_FLIGHT + 3 }, (_, i) => `u${i}`);
    for (const u of users) c.markDirty(u);
    const first = c.due(() => true);
    assert.deepEqual(first, users.slice(0, MAX_CALLS_IN_FLIGHT));
    c.markDirty("u0"); // committed again while u0's call is in flight
    assert.deepEqual(c.due(() => true), [], "all slots busy");
    for (const u of users.slice(1, MAX_CALLS_IN_FLIGHT)) assert.equal(c.settled(u, false), true, "others still dirty");
    // u0's call is still in flight: skipped and kept dirty; the waiting members go.
    assert.deepEqual(c.due(() => true), users.slice(MAX_CALLS_IN_FLIGHT));
    assert.equal(c.hasDirty(), true);
    assert.equal(c.settled("u0", false), true);
    assert.deepEqual(c.due(() => true), ["u0"]);
  });

  it("a success records the cursor; a member the room moved past meanwhile is dirty again", () => {
    const c = new NotifyCoalescer({});
    c.begin("bob");
    c.confirm("bob", cursorOf(snap(3)));
    assert.deepEqual(c.cursor("bob"), { seq: 3, readSeq: 0, unread: 0 });
    assert.equal(c.settled("bob", true), true);
    assert.deepEqual(c.due(() => true), ["bob"]);
    assert.equal(c.settled("bob", false), false);
  });

  it("a failure keeps the member owed and backs off more with each failure in a row, until a success", () => {
    const c = new NotifyCoalescer({});
    c.begin("bob");
    assert.deepEqual(c.failed("bob", 0.5), { attempt: 1, delayMs: 100 });
    assert.equal(c.hasDirty(), true);
    assert.deepEqual(c.idle(["bob"]), ["bob"], "no longer in flight");
    c.begin("carol");
    assert.deepEqual(c.failed("carol", 0.5), { attempt: 2, delayMs: 200 }, "failures count over all members");
    c.begin("bob");
    c.settled("bob", false);
    c.begin("bob");
    assert.deepEqual(c.failed("bob", 0.5), { attempt: 1, delayMs: 100 }, "a success resets the count");
  });
});
