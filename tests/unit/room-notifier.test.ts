/** RoomNotifier over a fake port: the I/O around core/notify-coalescing.ts (PROTOCOL IB2). */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { RoomNotifier, type Cursor, type NotifierPort, type Snapshot } from "../../party/room/notifier.ts";
import { COALESCE_MS, GROUP_COALESCE_MS } from "../../party/core/notify-coalescing.ts";

function harness(members: string[], stored: Record<string, Cursor> = {}, opts: { held?: boolean; lastSeq?: number } = {}) {
  let lastSeq = opts.lastSeq ?? 0;
  const unread = new Map<string, number>();
  const timers: Array<{ fn: () => void; ms: number }> = [];
  const calls: Array<{ user: string; body: { notifications: Array<Snapshot & { events: Array<{ seq: number }> }> } }> = [];
  const saved: Array<[string, Cursor]> = [];
  const reads: Array<[number, number]> = [];
  let failNext = 0;
  const port: NotifierPort = {
    members: () => members,
    isRecipient: (user) => members.includes(user),
    snapshot: (user) => ({ room: "dm:alice:bob", kind: "dm", title: "t", lastSeq, lastTs: lastSeq, preview: null, readSeq: 0, unread: unread.get(user) ?? 0 }),
    readEventsJson: async (from, before) => {
      reads.push([from, before]);
      return Array.from({ length: before - from }, (_, i) => JSON.stringify({ seq: from + i }));
    },
    deliver: async (user, body) => {
      if (failNext > 0) {
        failNext--;
        throw new Error("inbox down");
      }
      calls.push({ user, body: JSON.parse(body) });
    },
    saveCursor: (user, cursor) => void saved.push([user, cursor]),
    schedule: (fn, ms) => void timers.push({ fn, ms }),
    random: () => 0.5,
    held: opts.held ?? false,
  };
  const notifier = new RoomNotifier(port, stored);
  const commit = (...seqs: number[]) => {
    lastSeq = Math.max(lastSeq, ...seqs);
    notifier.committed(seqs.map((seq) => ({ seq, json: JSON.stringify({ seq }) })));
  };
  /** Runs the timers due so far, then lets the calls they started finish. */
  const tick = async () => {
    const due = timers.splice(0);
    for (const t of due) t.fn();
    for (let i = 0; i < 10; i++) await Promise.resolve();
    return due.map((t) => t.ms);
  };
  return { notifier, commit, tick, timers, calls, saved, reads, unread, setLast: (n: number) => (lastSeq = n), failNext: (n: number) => (failNext = n) };
}

describe("RoomNotifier", () => {
  it("a DM commit notifies both inboxes once, from the kept events, and stores what they confirmed", async () => {
    const h = harness(["alice", "bob"]);
    h.commit(1, 2);
    h.commit(3);
    assert.deepEqual(await h.tick(), [COALESCE_MS], "one timer for both commits");
    assert.deepEqual(h.calls.map((c) => c.user).sort(), ["alice", "bob"]);
    assert.deepEqual(h.calls[0]!.body.notifications[0]!.events.map((e) => e.seq), [1, 2, 3]);
    assert.deepEqual(h.reads, [], "live notifications never read storage");
    assert.deepEqual(h.saved.map(([u, c]) => [u, c.seq]).sort(), [["alice", 3], ["bob", 3]]);
    assert.deepEqual(h.notifier.pending(), []);
    assert.equal(h.notifier.counters.calls, 2);
    assert.equal(h.notifier.counters.events, 6);
  });

  it("a group waits longer, so a burst becomes one call per member", async () => {
    const h = harness(["a", "b", "c"]);
    h.commit(1);
    assert.deepEqual(await h.tick(), [GROUP_COALESCE_MS]);
    assert.equal(h.calls.length, 3);
  });

  it("sends only what the inbox has not confirmed, reading storage for events it no longer keeps", async () => {
    // A room loaded from storage: its recent events are not in memory.
    const h = harness(["alice", "bob"], { alice: { seq: 3, readSeq: 0, unread: 0 }, bob: { seq: 5, readSeq: 0, unread: 0 } }, { lastSeq: 5 });
    assert.deepEqual(h.notifier.pending(), ["alice"]);
    h.notifier.kick();
    await h.tick();
    assert.deepEqual(h.calls.map((c) => c.user), ["alice"]);
    assert.deepEqual(h.calls[0]!.body.notifications[0]!.events.map((e) => e.seq), [4, 5]);
    assert.deepEqual(h.reads, [[4, 6]]);
  });

  it("a read position or unread change alone is a call without events", async () => {
    const h = harness(["alice", "bob"]);
    h.unread.set("bob", 1);
    h.notifier.markDirty("bob");
    await h.tick();
    assert.deepEqual(h.calls.map((c) => [c.user, c.body.notifications[0]!.events.length, c.body.notifications[0]!.unread]), [["bob", 0, 1]]);
  });

  it("a failed call is retried after a jittered backoff until it succeeds", async () => {
    const h = harness(["alice", "bob"]);
    h.failNext(1);
    h.commit(1);
    await h.tick();
    assert.equal(h.notifier.counters.failures, 1);
    assert.equal(h.calls.length, 1);
    assert.deepEqual(h.timers.map((t) => t.ms), [100], "random 0.5 × 200 ms after the first failure");
    await h.tick();
    assert.equal(h.calls.length, 2);
    assert.deepEqual(h.notifier.pending(), []);
  });

  it("drain delivers everything pending and says whether anything is left", async () => {
    const h = harness(["alice", "bob"], { alice: { seq: 0, readSeq: 0, unread: 0 } });
    h.setLast(2);
    assert.equal(await h.notifier.drain(), true);
    assert.equal(h.calls.length, 2);
    h.setLast(3);
    h.failNext(2);
    assert.equal(await h.notifier.drain(), false);
  });

  it("held (test switch): nothing is scheduled or drained", async () => {
    const h = harness(["alice", "bob"], {}, { held: true });
    h.commit(1);
    assert.equal(h.timers.length, 0);
    assert.equal(await h.notifier.drain(), false);
    assert.equal(h.calls.length, 0);
  });
});
