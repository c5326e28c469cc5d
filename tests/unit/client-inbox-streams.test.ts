/**
 * RoomStreams (per-room gapless delivery with sync) and ConversationStore with plain data: no sockets.
 * The hooks record what would go on the wire; each test checks the full delivered (room, seq) sequence.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ConversationStore } from "../../client/inbox-conversations.ts";
import { RoomStreams } from "../../client/inbox-streams.ts";
import { conversationCursor, type Conversation, type RoomEvent } from "../../party/protocol/index.ts";

const msg = (seq: number): RoomEvent => ({ kind: "message", seq, ts: seq, author: { id: "bob", name: "Bob" }, clientId: `c${seq}`, text: `m${seq}` });
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => msg(from + i));

function harness() {
  const delivered: string[] = [];
  const requests: { id: string; room: string; after: number }[] = [];
  const stuck: string[] = [];
  let ready = true;
  const streams = new RoomStreams({
    deliver: (room, event) => delivered.push(`${room}#${event.seq}`),
    requestSync: (room, after) => {
      if (!ready) return null;
      const id = `s${requests.length + 1}`;
      requests.push({ id, room, after });
      return id;
    },
    stuck: (room, message) => stuck.push(`${room}: ${message}`),
  });
  const answer = (i: number, events: RoomEvent[], hasMore = false) => {
    const request = requests[i];
    assert.ok(request, `sync request ${i}`);
    return streams.answer({ requestId: request.id, room: request.room, events, lastSeq: events.at(-1)?.seq ?? request.after, hasMore });
  };
  return { streams, delivered, requests, stuck, answer, setReady: (r: boolean) => (ready = r) };
}

describe("RoomStreams", () => {
  it("drops duplicates, holds everything after a gap until the sync fills it, then releases in order", () => {
    const h = harness();
    h.streams.join("A", 2);
    h.streams.live("A", [msg(1), msg(2), msg(3)]);
    h.streams.live("A", [msg(6), msg(7)]);
    assert.deepEqual(h.requests, [{ id: "s1", room: "A", after: 3 }]);
    h.streams.live("A", [msg(7), msg(8)]); // while syncing: held, nothing delivered
    h.streams.catchUp("A", 99); // one sync per room at a time
    assert.equal(h.requests.length, 1);
    assert.deepEqual(h.delivered, ["A#3"]);
    h.answer(0, [msg(4)], true);
    assert.deepEqual(h.requests[1], { id: "s2", room: "A", after: 4 });
    h.answer(1, [msg(5), msg(6)]);
    assert.deepEqual(h.delivered, ["A#3", "A#4", "A#5", "A#6", "A#7", "A#8"]);
    assert.equal(h.streams.position("A"), 8);
    assert.deepEqual(h.stuck, []);
  });

  it("keeps rooms apart, ignores unknown rooms and stale answers, and starts over on a new socket", () => {
    const h = harness();
    h.streams.join("A", 0);
    h.streams.join("B", 5);
    h.streams.join("B", 0); // already known: no effect
    h.streams.live("Z", [msg(1)]);
    h.streams.live("B", [msg(6)]);
    h.streams.live("A", [msg(2)]);
    assert.deepEqual(h.delivered, ["B#6"]);
    h.streams.dropSocket(); // the sync for A dies with the socket; held A#2 is forgotten
    assert.equal(h.answer(0, [msg(1), msg(2)]), false, "an answer from the old socket is not ours");
    assert.deepEqual(h.delivered, ["B#6"]);
    h.setReady(false);
    h.streams.catchUp("A", 2);
    assert.equal(h.requests.length, 1, "no socket: nothing sent, nothing marked in flight");
    h.setReady(true);
    h.streams.catchUp("A", 2);
    h.answer(1, [msg(1), msg(2)]);
    assert.deepEqual(h.delivered, ["B#6", "A#1", "A#2"]);
    assert.deepEqual(h.streams.positions(), { A: 2, B: 6 });
  });

  it("a sync that does not close the gap is reported once, never looped on; a failed sync can be retried", () => {
    const h = harness();
    h.streams.join("A", 0);
    h.streams.live("A", [msg(3)]);
    h.answer(0, [msg(2)]); // the log skips seq 1
    assert.equal(h.stuck.length, 1);
    assert.equal(h.requests.length, 1);
    assert.deepEqual(h.delivered, []);
    h.streams.catchUp("A");
    assert.equal(h.streams.failed(h.requests[1]!.id), "A");
    assert.equal(h.streams.failed("nope"), undefined);
    h.streams.catchUp("A");
    h.answer(2, range(1, 3));
    assert.deepEqual(h.delivered, ["A#1", "A#2", "A#3"]);
  });
});

describe("ConversationStore", () => {
  const row = (room: string, lastSeq: number, lastTs: number, readSeq = 0): Conversation => ({
    room, kind: "dm", title: room, lastSeq, lastTs, preview: null, readSeq, unread: lastSeq - readSeq, cursor: conversationCursor(lastTs, room),
  });

  it("sorts newest activity first and never lets an older row overwrite a newer one", () => {
    const store = new ConversationStore();
    store.put(row("a", 5, 100));
    store.put(row("b", 1, 300));
    store.put(row("c", 2, 200));
    assert.deepEqual(store.sorted().map((r) => r.room), ["b", "c", "a"]);
    assert.equal(store.put(row("a", 4, 90)), false, "a late list page with an older row");
    assert.equal(store.put(row("a", 5, 100, 5)), true, "a read moves readSeq forward");
    assert.equal(store.put(row("a", 5, 100, 3)), false);
    assert.equal(store.unread("a"), 0);
    assert.equal(store.unread("missing"), 0);
  });
});
