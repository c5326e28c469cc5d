/** DmQueues: per-room arrival order, one batch in flight per room, bounded batches, resync drops (PROTOCOL IB1, I4). */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { DmQueues, toRoomItem } from "../../party/core/dm-queues.ts";
import type { DmCommand } from "../../party/protocol/index.ts";

type Item = { device: string; n: number };
const item = (device: string, n: number): Item => ({ device, n });
const queues = (maxBatch = 10) => new DmQueues<Item>((i) => i.device, maxBatch);

describe("DmQueues", () => {
  it("flushes a room at once when it has nothing in flight, and queues behind a batch in flight", () => {
    const q = queues();
    assert.equal(q.add("dm:a:b", item("d1", 1)), true);
    assert.deepEqual(q.take("dm:a:b"), [item("d1", 1)]);
    assert.equal(q.add("dm:a:b", item("d1", 2)), false, "in flight: wait");
    assert.equal(q.add("dm:a:b", item("d2", 1)), false);
    assert.equal(q.add("dm:a:c", item("d1", 3)), true, "another room proceeds independently");
    assert.equal(q.done("dm:a:b"), true, "more queued: flush again");
    assert.deepEqual(q.take("dm:a:b"), [item("d1", 2), item("d2", 1)], "everything waiting leaves as one batch, in arrival order");
    assert.equal(q.done("dm:a:b"), false);
  });

  it("a room with nothing queued has no batch and nothing in flight", () => {
    const q = queues();
    assert.equal(q.take("dm:a:b"), undefined);
    assert.equal(q.add("dm:a:b", item("d1", 1)), true);
  });

  it("bounds a batch; the rest goes first in the next one", () => {
    const q = queues(2);
    for (let n = 1; n <= 5; n++) q.add("dm:a:b", item("d1", n));
    assert.deepEqual(q.take("dm:a:b")?.map((i) => i.n), [1, 2]);
    q.add("dm:a:b", item("d1", 6));
    assert.equal(q.done("dm:a:b"), true);
    assert.deepEqual(q.take("dm:a:b")?.map((i) => i.n), [3, 4]);
    q.done("dm:a:b");
    assert.deepEqual(q.take("dm:a:b")?.map((i) => i.n), [5, 6]);
    assert.equal(q.done("dm:a:b"), false);
  });

  it("drops a resyncing device's queued and later commands until its close is seen", () => {
    const q = queues();
    q.add("dm:a:b", item("d1", 1));
    q.take("dm:a:b");
    q.add("dm:a:b", item("d1", 2));
    q.add("dm:a:b", item("d2", 1));
    q.add("dm:a:c", item("d1", 3));
    q.drop("d1");
    assert.equal(q.isDropped("d1"), true);
    assert.equal(q.add("dm:a:b", item("d1", 4)), false);
    assert.equal(q.done("dm:a:b"), true);
    assert.deepEqual(q.take("dm:a:b"), [item("d2", 1)]);
    assert.equal(q.take("dm:a:c"), undefined, "only the dropped device's commands were queued there");
    q.forget("d1");
    assert.equal(q.isDropped("d1"), false);
    assert.equal(q.add("dm:a:c", item("d1", 1)), true);
  });
});

describe("toRoomItem", () => {
  it("turns a device's dm into a send of its inbox session, without type or recipient", () => {
    const dm: DmCommand = { type: "dm", to: "bob", clientId: "c1", n: 3, text: "hi" };
    assert.deepEqual(toRoomItem("s1", dm), { session: "ib-s1", command: { type: "send", clientId: "c1", n: 3, text: "hi" } });
    const withFiles: DmCommand = { ...dm, attachments: [] };
    assert.deepEqual(toRoomItem("s1", withFiles).command, { type: "send", clientId: "c1", n: 3, text: "hi", attachments: [] });
  });
});
