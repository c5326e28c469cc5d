/**
 * PROTOCOL I1-I4 end to end: 20 real clients each keep many messages in flight into one room of a real
 * `partykit dev`; every client sees every message exactly once, in one gapless order.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { DevServer, waitFor } from "../helpers/dev-server.ts";
import { openClient, sendAll } from "../helpers/clients.ts";
import { assertRoomConsistent } from "../helpers/log-check.ts";
import WebSocket from "ws";

/** A `ws` socket that counts send frames on the wire minus acks received: the real in-flight depth. */
class CountingWebSocket extends WebSocket {
  static maxInFlight = 0;
  static maxCommandsPerFrame = 0;
  private inFlight = 0;
  constructor(...args: ConstructorParameters<typeof WebSocket>) {
    super(...args);
    this.on("message", (data) => {
      const text = data.toString();
      if (text.startsWith('{"type":"ack"')) this.inFlight -= JSON.parse(text).acks.length;
    });
  }
  override send(data: any, ...rest: any[]): void {
    if (typeof data === "string" && data.includes('"type":"send"')) {
      const frame = JSON.parse(data);
      this.inFlight += frame.type === "batch" ? frame.commands.length : 1; // R17: a batch carries many
      CountingWebSocket.maxCommandsPerFrame = Math.max(CountingWebSocket.maxCommandsPerFrame, frame.type === "batch" ? frame.commands.length : 1);
      CountingWebSocket.maxInFlight = Math.max(CountingWebSocket.maxInFlight, this.inFlight);
    }
    (super.send as (...a: any[]) => void)(data, ...rest);
  }
}

const server = new DevServer();
before(() => server.start());
after(() => server.stop());

test("20 clients x 200 messages at once: gapless 1..4000, one order, acks equal delivered seqs, history equals acks", async () => {
  const room = "busy-room";
  const clients = await Promise.all(Array.from({ length: 20 }, (_, i) => openClient(server, room, `user${i}`, { WebSocket: CountingWebSocket })));
  const sends = clients.map((client) => {
    const texts = Array.from({ length: 200 }, (_, k) => `${client.observed.userId} #${k}`);
    const done = sendAll(client, texts);
    return done;
  });
  await Promise.all(sends);
  // Many messages were on one socket's wire at once, unacked (counted on the socket, not in the outbox).
  assert.ok(CountingWebSocket.maxInFlight >= 100, `expected many messages in flight per client, saw at most ${CountingWebSocket.maxInFlight}`);
  assert.ok(CountingWebSocket.maxCommandsPerFrame > 1, "commands made in one tick left in batch frames");
  await waitFor(() => clients.every((c) => c.observed.events.length === 4000), 30_000, "every client to see 4000 events");
  assertRoomConsistent(clients.map((c) => c.observed), 4000);

  // History read from seq 1 equals what was acked.
  const acked = new Map<string, number>();
  for (const c of clients) for (const [clientId, seq] of c.observed.acks) acked.set(`${c.observed.userId}/${clientId}`, seq);
  const history: Array<{ seq: number; author: { id: string }; clientId: string }> = [];
  for (let beforeSeq = 4001; beforeSeq > 1; ) {
    const page = await clients[0]!.room.history({ before: beforeSeq, limit: 200 });
    history.unshift(...page.events);
    beforeSeq = page.events[0]!.seq;
    assert.equal(page.hasMore, beforeSeq > 1);
  }
  assert.equal(history.length, 4000);
  history.forEach((event, i) => {
    assert.equal(event.seq, i + 1);
    assert.equal(acked.get(`${event.author.id}/${event.clientId}`), event.seq);
  });
  for (const c of clients) c.room.close();
});

test("edits and deletions take their own seq, update history, and reach every client (PROTOCOL R8)", async () => {
  const room = "edit-room";
  const alice = await openClient(server, room, "alice");
  const bob = await openClient(server, room, "bob");
  const first = await alice.room.send("helo");
  const second = await alice.room.send("to be deleted");
  const edit = await alice.room.edit(first.seq, "hello");
  const del = await alice.room.delete(second.seq);
  assert.deepEqual([first.seq, second.seq, edit.seq, del.seq], [1, 2, 3, 4]);
  const commands = [first, second, edit, del];
  assert.equal(new Set(commands.map((c) => c.clientId)).size, 4, "four commands, four clientIds");
  alice.observed.sent = commands.map((c) => c.clientId);
  for (const c of commands) alice.observed.acks.set(c.clientId, c.seq);
  await waitFor(() => bob.observed.events.length === 4 && alice.observed.events.length === 4, 10_000, "both see 4 events");
  assert.deepEqual(bob.observed.events.map((e) => e.kind), ["message", "message", "edit", "delete"]);
  // By seq and by clientId: each acked command once, at its seq, in sending order, on both clients.
  assertRoomConsistent([alice.observed, bob.observed], 4);
  const page = await bob.room.history({ limit: 10 });
  assert.deepEqual(page.events.map((e) => [e.seq, e.author.id, e.clientId]), commands.map((c) => [c.seq, "alice", c.clientId]), "history: the acked clientId at each seq");
  const [m1, m2, e3, d4] = page.events as any[];
  assert.equal(m1.text, "hello");
  assert.equal(m1.editedBy, 3);
  assert.equal(m2.text, "");
  assert.equal(m2.deletedBy, 4);
  assert.equal(m2.seq, 2, "a tombstone keeps its seq");
  assert.equal(e3.target, 1);
  assert.equal(d4.target, 2);
  await assert.rejects(bob.room.edit(first.seq, "bob was here"), (error: any) => error.code === "forbidden" && error.retryable === false);
  alice.room.close();
  bob.room.close();
});
