/** DmRouter over a fake room: batches per room, owe before ack, acks after the room answers, resync (PROTOCOL IB1). */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { DmRouter, type Device } from "../../party/inbox/dm-router.ts";
import type { DmCommand } from "../../party/protocol/index.ts";

function device(id: string, log: string[]): Device & { frames: Array<Record<string, unknown>>; resyncs: number } {
  const d = {
    id,
    session: `s-${id}`,
    user: { id: "alice", name: "Alice" },
    frames: [] as Array<Record<string, unknown>>,
    resyncs: 0,
    send(frame: string) {
      d.frames.push(JSON.parse(frame));
      log.push(`${id} ${JSON.parse(frame).type}`);
    },
    resync() {
      d.resyncs++;
    },
  };
  return d;
}
const dm = (n: number, clientId = `c${n}`): DmCommand => ({ type: "dm", to: "bob", clientId, n, text: `t${n}` });
const settle = async () => {
  for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
};

function room(answer: (items: Array<{ session: string; command: { clientId: string; n: number } }>) => unknown[], log: string[]) {
  const batches: Array<{ room: string; items: Array<{ session: string; command: { type: string; clientId: string; n: number } }> }> = [];
  let release: (() => void) | undefined;
  let hold = false;
  const call = async (roomId: string, body: string) => {
    const { items } = JSON.parse(body);
    batches.push({ room: roomId, items });
    log.push(`call ${roomId} ${items.length}`);
    if (hold) await new Promise<void>((resolve) => (release = resolve));
    return new Response(JSON.stringify({ results: answer(items) }), { status: 200 });
  };
  return { call, batches, hold: (on: boolean) => (hold = on), release: () => release?.() };
}
const acked = (items: Array<{ command: { clientId: string; n: number } }>) => items.map((i) => ({ ack: { clientId: i.command.clientId, seq: i.command.n, ts: 1 } }));

describe("DmRouter", () => {
  it("queues behind a batch in flight, sends the rest as one batch, remembers the owed seq before acking", async () => {
    const log: string[] = [];
    const r = room(acked, log);
    const owed: Array<[string, number]> = [];
    const router = new DmRouter(r.call, async (roomId, seq) => {
      owed.push([roomId, seq]);
      log.push(`owe ${seq}`);
    });
    const d1 = device("d1", log);
    r.hold(true);
    router.route("dm:alice:bob", d1, dm(1));
    router.route("dm:alice:bob", d1, dm(2));
    router.route("dm:alice:bob", d1, dm(3));
    await settle();
    r.hold(false);
    r.release();
    await settle();
    assert.deepEqual(r.batches.map((b) => b.items.map((i) => i.command.n)), [[1], [2, 3]]);
    assert.deepEqual(r.batches[0]!.items[0], { session: "ib-s-d1", command: { type: "send", clientId: "c1", n: 1, text: "t1" } });
    assert.deepEqual(owed, [["dm:alice:bob", 1], ["dm:alice:bob", 3]]);
    assert.deepEqual(log, ["call dm:alice:bob 1", "owe 1", "d1 ack", "call dm:alice:bob 2", "owe 3", "d1 ack", "d1 ack"]);
    assert.deepEqual(d1.frames.map((f) => (f.acks as Array<{ seq: number; room: string }>)[0]), [1, 2, 3].map((seq) => ({ clientId: `c${seq}`, seq, ts: 1, room: "dm:alice:bob" })));
  });

  it("a storage failure closes the device for resync and drops its later commands until its close", async () => {
    const log: string[] = [];
    const r = room((items) => items.map((i) => (i.command.n === 1 ? { error: { type: "error", code: "storage_failed", message: "m", retryable: true } } : { ack: { clientId: i.command.clientId, seq: i.command.n, ts: 1 } })), log);
    const router = new DmRouter(r.call, async () => {});
    const d1 = device("d1", log);
    const d2 = device("d2", log);
    r.hold(true);
    router.route("dm:alice:bob", d1, dm(1));
    router.route("dm:alice:bob", d1, dm(2));
    router.route("dm:alice:bob", d2, dm(5));
    await settle();
    r.hold(false);
    r.release();
    await settle();
    assert.equal(d1.resyncs, 1);
    assert.deepEqual(d1.frames, [{ type: "error", code: "storage_failed", message: "m", retryable: true, ref: "c1" }]);
    assert.deepEqual(r.batches.map((b) => b.items.map((i) => i.command.n)), [[1], [5]], "d1's queued command was dropped");
    router.route("dm:alice:bob", d1, dm(2));
    await settle();
    assert.equal(r.batches.length, 2, "still dropped until the close is seen");
    router.forget("d1");
    router.route("dm:alice:bob", d1, dm(1, "c1"));
    await settle();
    assert.equal(r.batches.length, 3);
  });

  it("an unreachable room answers every command of the batch with room_unavailable", async () => {
    const log: string[] = [];
    const router = new DmRouter(async () => new Response("down", { status: 503 }), async () => {});
    const d1 = device("d1", log);
    router.route("dm:alice:bob", d1, dm(1));
    await settle();
    assert.deepEqual(d1.frames.map((f) => [f.code, f.ref]), [["room_unavailable", "c1"]]);
    assert.equal(d1.resyncs, 1);
  });
});
