/**
 * PROTOCOL R3b against a real `partykit dev`: a write that never settles (KAIWA_TEST_HANG_WRITE_AT) must not
 * leave a room silently stuck (the 2026-11-24 bench saw 5 of 20 rooms make no progress for 30 s with no
 * error). The watchdog gives the write up: its commands get storage_failed, their sockets resync (4013),
 * the room reloads, says so in stats, and every command a client sent is stored once, in order, gapless.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { DevServer, waitFor } from "../helpers/dev-server.ts";
import { openClient, type TestClient } from "../helpers/clients.ts";
import { assertRoomConsistent } from "../helpers/log-check.ts";

const server = new DevServer({ vars: { KAIWA_TEST_HANG_WRITE_AT: 3, KAIWA_TEST_WRITE_STALL_MS: 1_500 } });
const clients: TestClient[] = [];
before(() => server.start());
after(async () => {
  for (const c of clients) c.room.close();
  await server.stop();
});

test("PROTOCOL R3b: a hung write is given up after the stall limit; clients resync and every message lands once, in order", async () => {
  const room = "stall-room";
  const watcher = await openClient(server, room, "watcher");
  const writer = await openClient(server, room, "writer");
  clients.push(watcher, writer);
  const texts = Array.from({ length: 30 }, (_, i) => `m${i}`);
  const started = Date.now();
  const acks = [];
  // One at a time: write 3 is the third message's, so the stall hits a known command.
  for (const text of texts) {
    const ack = await writer.room.send(text);
    writer.observed.sent.push(ack.clientId);
    writer.observed.acks.set(ack.clientId, ack.seq);
    acks.push(ack);
  }
  const took = Date.now() - started;
  assert.ok(took >= 1_500, `the stalled write held its command for the stall limit (${took} ms)`);
  assert.deepEqual(acks.map((a) => a.seq), Array.from({ length: 30 }, (_, i) => i + 1), "acked once each, in send order");
  assert.ok(writer.statuses.includes("reconnecting"), "the writer's socket was resynced (4013)");
  await waitFor(() => watcher.observed.events.length === 30 && writer.observed.events.length === 30, 20_000, "both saw all 30");
  assertRoomConsistent([watcher.observed, writer.observed], 30);
  const stats = await server.fetchJson(`/parties/room/${room}/stats`, { token: await server.token("ops", { operator: true }) });
  assert.equal(stats.body.work.stalls, 1, "the room says a write stalled");
  assert.equal(stats.body.commands.storageFailures, 1);
  assert.equal(stats.body.work.broken, false, "and it recovered");
  assert.equal(stats.body.lastSeq, 30);
});
