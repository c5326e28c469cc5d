/** ReadState (PROTOCOL I6, IB4): exact unread counts under messages, deletions and reads, checked against a brute-force truth. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ReadState, membersFromRoomId } from "../../party/core/read-state.ts";
import type { MessageEvent, RoomEvent } from "../../party/protocol/index.ts";

const msg = (seq: number, author: string): MessageEvent => ({ kind: "message", seq, ts: seq, author: { id: author, name: author }, clientId: `c${seq}`, text: `m${seq}` });

/** The definition: other people's undeleted messages above the member's read position. */
function truth(log: Map<number, MessageEvent>, user: string, readSeq: number): number {
  let n = 0;
  for (const m of log.values()) if (m.author.id !== user && m.deletedBy === undefined && m.seq > readSeq) n++;
  return n;
}

describe("ReadState", () => {
  it("counts exactly through a random mix of messages, deletions and reads, and survives a rebuild", () => {
    let seed = 7;
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const members = ["alice", "bob"];
    const state = new ReadState(members, {}, []);
    const log = new Map<number, MessageEvent>();
    const read: Record<string, number> = { alice: 0, bob: 0 };
    let seq = 0;
    for (let step = 0; step < 3000; step++) {
      const r = rand();
      if (r < 0.6) {
        const m = msg(++seq, members[Math.floor(rand() * 2)]!);
        log.set(m.seq, m);
        state.applyEvent(m);
      } else if (r < 0.75 && log.size > 0) {
        const live = [...log.values()].filter((m) => m.deletedBy === undefined);
        const target = live[Math.floor(rand() * live.length)];
        if (!target) continue;
        const del: RoomEvent = { kind: "delete", seq: ++seq, ts: seq, author: target.author, clientId: `d${seq}`, target: target.seq };
        state.applyEvent(del, target);
        log.set(target.seq, { ...target, text: "", deletedBy: del.seq });
      } else {
        const user = members[Math.floor(rand() * 2)]!;
        const to = Math.floor(rand() * (seq + 1));
        const changed = state.applyRead(user, to);
        assert.equal(changed, to > read[user]!);
        read[user] = Math.max(read[user]!, to);
      }
      for (const user of members) {
        assert.equal(state.unread(user), truth(log, user, read[user]!), `step ${step} ${user}`);
        assert.ok(state.unread(user) <= seq - state.readSeq(user), "PROTOCOL I6: never above lastSeq − readSeq");
      }
    }
    const rebuilt = new ReadState(members, read, [...log.values()].sort((a, b) => a.seq - b.seq));
    for (const user of members) assert.equal(rebuilt.unread(user), state.unread(user));
  });

  it("counts a new member only from the event that added them, and forgets a removed one", () => {
    const state = new ReadState(["a", "b"], {}, []);
    state.applyEvent(msg(1, "a"));
    state.applyEvent(msg(2, "b"));
    state.addMember("c", 3); // added by event 3
    state.applyEvent(msg(4, "a"));
    assert.equal(state.unread("c"), 1, "only the message after joining");
    assert.equal(state.unread("b"), 2);
    state.removeMember("b");
    state.applyEvent(msg(5, "c"));
    assert.equal(state.isMember("b"), false);
    assert.equal(state.unread("b"), 0);
    assert.equal(state.unread("a"), 2, "b's message 2 and c's message 5");
    assert.deepEqual(state.members.sort(), ["a", "c"]);
    const rebuilt = new ReadState(["a", "c"], { a: 0, c: 3 }, [msg(1, "a"), msg(2, "b"), msg(4, "a"), msg(5, "c")]);
    assert.equal(rebuilt.unread("c"), 1);
    assert.equal(rebuilt.unread("a"), 2);
  });

  it("never moves a read position backwards", () => {
    const state = new ReadState(["a", "b"], { a: 5 }, []);
    assert.equal(state.applyRead("a", 3), false);
    assert.equal(state.readSeq("a"), 5);
    assert.equal(state.applyRead("zed", 3), false, "non-members have no position");
  });

  it("knows DM members from the canonical room id only", () => {
    assert.deepEqual(membersFromRoomId("dm:alice:bob"), ["alice", "bob"]);
    assert.deepEqual(membersFromRoomId("dm:bob:alice"), []);
    assert.deepEqual(membersFromRoomId("lobby"), []);
    assert.deepEqual(membersFromRoomId("dm:a:b:c"), []);
  });
});
