import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { RoomEvent } from "../../party/protocol/index.ts";
import { sequence } from "../../client/sequencer.ts";

const ev = (seq: number): RoomEvent => ({ kind: "message", seq, ts: 1, author: { id: "u", name: "U" }, clientId: `c${seq}`, text: `m${seq}` });
const seqs = (events: RoomEvent[]) => events.map((e) => e.seq);

describe("sequence (exactly-once, in order)", () => {
  it("delivers contiguous events after lastSeq", () => {
    const r = sequence(3, [ev(4), ev(5), ev(6)]);
    assert.deepEqual(seqs(r.deliver), [4, 5, 6]);
    assert.equal(r.gapAt, null);
  });

  it("drops duplicates from replay/broadcast overlap", () => {
    const r = sequence(5, [ev(4), ev(5), ev(6), ev(6), ev(7)]);
    assert.deepEqual(seqs(r.deliver), [6, 7]);
    assert.equal(r.gapAt, null);
  });

  it("stops at a gap and reports where", () => {
    const r = sequence(1, [ev(2), ev(4), ev(5)]);
    assert.deepEqual(seqs(r.deliver), [2]);
    assert.equal(r.gapAt, 4);
  });
});
