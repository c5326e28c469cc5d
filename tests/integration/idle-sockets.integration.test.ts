/**
 * PROTOCOL R80 against a real `partykit dev`: a socket that stops reading while the room broadcasts is closed
 * with the retryable 4014 `not_reading` and released, while a typed client that only reads stays connected
 * (its keepalive ping, PROTOCOL R12), and nobody else loses anything. The sweep is shortened by test switches:
 * silent 2 s while the room broadcast 20,000 bytes, looked for every 250 ms.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { DevServer, sleep, waitFor } from "../helpers/dev-server.ts";
import { openClient, type TestClient } from "../helpers/clients.ts";
import { closedWithin, rawSocket } from "../helpers/raw-socket.ts";
import { assertRoomConsistent } from "../helpers/log-check.ts";
import { CLOSE } from "../../party/protocol/index.ts";

const IDLE_MS = 2_000;
const server = new DevServer({ vars: { KAIWA_TEST_IDLE_CLOSE_MS: IDLE_MS, KAIWA_TEST_IDLE_CLOSE_BYTES: 20_000, KAIWA_TEST_IDLE_SWEEP_MS: 250 } });
const opened: TestClient[] = [];
let operator = "";
before(async () => {
  await server.start();
  operator = await server.token("ops", { operator: true });
});
after(async () => {
  for (const c of opened) c.room.close();
  await server.stop();
});

async function work(room: string): Promise<{ notReadingClosed: number; connections: number }> {
  const { status, body } = await server.fetchJson(`/parties/room/${room}/stats`, { token: operator });
  assert.equal(status, 200);
  return { notReadingClosed: body.work.notReadingClosed, connections: body.connections };
}

test("PROTOCOL R80: a socket that stops reading is closed with 4014 and freed; a client that only reads stays; nothing lost", async () => {
  const room = "idle-sweep";
  const writer = await openClient(server, room, "writer");
  // Reads only, in a room that sends it a frame every few ms: its silence ping never fires, its keepalive does.
  const reader = await openClient(server, room, "reader", { pingIntervalMs: 600 });
  // A client that pings only after 30 s (longer than the room waits): closed with the retryable code,
  // it reconnects and resumes like after any drop.
  const sleepy = await openClient(server, room, "sleepy", { pingIntervalMs: 30_000 });
  opened.push(writer, reader, sleepy);
  const sleepyCloses: string[] = [];
  sleepy.room.on("status", (change) => {
    if (change.reason.includes("4014")) sleepyCloses.push(change.reason);
  });
  const readerDrops: string[] = [];
  reader.room.on("status", (change) => {
    if (change.current !== "open") readerDrops.push(change.reason);
  });

  // The non-reader: joins, then its TCP stream is paused, so nothing the room sends is read any more.
  const stuck = await rawSocket(server, room, { token: await server.token("stuck"), session: "stuck" });
  await stuck.next((f) => f.type === "welcome");
  (stuck.ws as unknown as { _socket: { pause(): void; resume(): void } })._socket.pause();
  assert.equal((await work(room)).notReadingClosed, 0);

  // The room broadcasts ~40 messages a second of 1 KB each for about three silences' worth.
  const text = "x".repeat(1_000);
  const until = Date.now() + 3 * IDLE_MS;
  while (Date.now() < until) {
    const ack = await writer.room.send(text);
    writer.observed.sent.push(ack.clientId);
    writer.observed.acks.set(ack.clientId, ack.seq);
    await sleep(25);
  }
  const sent = writer.observed.sent.length;

  await waitFor(async () => (await work(room)).notReadingClosed >= 1 + sleepyCloses.length, 10_000, "the stuck socket closed");
  const stats = await work(room);
  assert.equal(stats.notReadingClosed, 1 + sleepyCloses.length, "the stuck socket and each of sleepy's silences, nothing else");
  assert.ok(sleepyCloses.length >= 1, "a client silent past the limit is closed too");
  assert.deepEqual(readerDrops, [], "the reading client was never closed");
  assert.equal(reader.room.status, "open");

  // The stuck socket reads again: what was queued before the close, then the close itself, 4014.
  (stuck.ws as unknown as { _socket: { resume(): void } })._socket.resume();
  assert.equal(await closedWithin(stuck, 15_000), CLOSE.notReading);
  const stuckEvents = stuck.frames.filter((f) => f.type === "events").flatMap((f) => f.events);
  assert.ok(stuckEvents.length < sent, `the room stopped sending to it: ${stuckEvents.length} of ${sent} events`);

  // Everyone else: every acked message exactly once, in order, by (room, seq) and clientId; the closed
  // client resumed without a gap.
  await waitFor(() => [reader, sleepy, writer].every((c) => c.observed.events.length === sent), 15_000, "everyone has every event");
  assertRoomConsistent([writer.observed, reader.observed, sleepy.observed], sent);
  assert.ok(sleepy.resumes.length >= 2 && sleepy.resumes.slice(1).every((r) => (r as { recovered: boolean }).recovered), "sleepy resumed");
  // The stuck socket no longer counts: the writer, the reader and sleepy (reconnected) are the room's sockets.
  await waitFor(async () => (await work(room)).connections === 3, 10_000, "three sockets left");
});
