/** InboxCore: idempotent notifications by (room, seq), newest-first paging, totals. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { InboxCore } from "../../party/core/inbox-core.ts";
import type { Notification, RoomEvent } from "../../party/protocol/index.ts";

const ev = (seq: number, author = "bob"): RoomEvent => ({ kind: "message", seq, ts: 1000 + seq, author: { id: author, name: author }, clientId: `c${seq}`, text: `t${seq}` });
const note = (room: string, lastSeq: number, readSeq: number, unread: number, events: RoomEvent[]): Notification => ({
  room,
  kind: "dm",
  title: "bob",
  peer: "bob",
  lastSeq,
  lastTs: 1000 + lastSeq,
  preview: null,
  readSeq,
  unread,
  events,
});

describe("InboxCore", () => {
  it("passes each event on once and ignores stale or repeated snapshots (PROTOCOL IB2)", () => {
    const core = new InboxCore();
    const first = core.apply(note("dm:alice:bob", 2, 0, 2, [ev(1), ev(2)]));
    assert.deepEqual(first.fresh.map((e) => e.seq), [1, 2]);
    assert.equal(first.created, true);
    const repeat = core.apply(note("dm:alice:bob", 2, 0, 2, [ev(1), ev(2)]));
    assert.equal(repeat.changed, false);
    assert.deepEqual(repeat.fresh, []);
    const overlap = core.apply(note("dm:alice:bob", 3, 0, 3, [ev(2), ev(3)]));
    assert.deepEqual(overlap.fresh.map((e) => e.seq), [3]);
    const stale = core.apply(note("dm:alice:bob", 2, 0, 2, []));
    assert.equal(stale.changed, false);
    assert.equal(core.get("dm:alice:bob")!.lastSeq, 3);
    const read = core.apply(note("dm:alice:bob", 3, 3, 0, []));
    assert.equal(read.changed, true);
    assert.equal(core.totalUnread(), 0);
  });

  it("pages newest activity first without overlap", () => {
    const core = new InboxCore();
    for (let i = 1; i <= 7; i++) core.apply(note(`dm:alice:u${i}`, i, 0, i, []));
    const seen: string[] = [];
    let before: string | undefined;
    for (;;) {
      const page = core.page(before, 3);
      seen.push(...page.conversations.map((c) => c.room));
      if (!page.hasMore) break;
      before = page.conversations.at(-1)!.cursor;
    }
    assert.deepEqual(seen, [7, 6, 5, 4, 3, 2, 1].map((i) => `dm:alice:u${i}`));
    assert.equal(core.totalUnread(), 28);
  });
});
