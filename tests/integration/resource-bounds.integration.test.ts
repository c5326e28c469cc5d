/**
 * The bounds of PROTOCOL §7.4 against a real `partykit dev`, one server with test switches that make them small:
 * - PROTOCOL R80: a socket that stops reading while the room broadcasts is closed with the retryable 4014
 *   `not_reading` and released, while a typed client that only reads stays connected (its keepalive ping,
 *   PROTOCOL R12), and nobody else loses anything. Silent 3 s while the room broadcast 20,000 bytes, looked
 *   for every 250 ms. The same for an inbox's devices.
 * - PROTOCOL R81: the directory keeps 3 rooms: busy rooms stay listed with exact counts, the least recently
 *   reported idle rooms go.
 * - PROTOCOL R82: what a resuming socket is sent at once: a replay of at most `resumeMaxEvents` (200 here), past
 *   it `recovered: false` and the client pages back through history; live frames held while it replays at
 *   most `catchUpMaxBytes` (2,000 here), past it 4013 and the client resumes. Both end gapless.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { DevServer, sleep, waitFor } from "../helpers/dev-server.ts";
import { openClient, sendAll, type TestClient } from "../helpers/clients.ts";
import { closedWithin, rawPartySocket, rawSocket } from "../helpers/raw-socket.ts";
import WebSocket from "ws";
import { KaiwaInbox, KaiwaRoom } from "../../client/index.ts";
import { assertGapless, assertRoomConsistent } from "../helpers/log-check.ts";
import { CLOSE, type RoomEvent } from "../../party/protocol/index.ts";

const IDLE_MS = 3_000;
const MAX_ROOMS = 3;
const RESUME_MAX = 200;
const CATCH_UP_MAX = 2_000;
const server = new DevServer({
  vars: {
    KAIWA_TEST_IDLE_CLOSE_MS: IDLE_MS,
    KAIWA_TEST_IDLE_CLOSE_BYTES: 20_000,
    KAIWA_TEST_IDLE_SWEEP_MS: 250,
    KAIWA_TEST_DIRECTORY_MAX_ROOMS: MAX_ROOMS,
    KAIWA_DIRECTORY_INTERVAL_MS: 150,
    KAIWA_RESUME_MAX_EVENTS: RESUME_MAX,
    KAIWA_TEST_CATCH_UP_MAX_BYTES: CATCH_UP_MAX,
  },
});
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
  // It is heard from at least every second (2 × 500 ms), well within the room's 3 s.
  const reader = await openClient(server, room, "reader", { pingIntervalMs: 500 });
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

  // Equal at one reading: the room may close sleepy once more before its client has seen that 4014.
  await waitFor(async () => (await work(room)).notReadingClosed === 1 + sleepyCloses.length, 10_000, "the room closed the stuck socket and each of sleepy's silences, nothing else");
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

type Listing = { rooms: Array<{ room: string; connections: number; lastSeq: number }>; total: number; evicted: number };

async function listing(): Promise<Listing> {
  const { status, body } = await server.fetchJson("/admin/rooms?limit=500", { token: operator });
  assert.equal(status, 200);
  assert.ok(body.total <= MAX_ROOMS, `the directory lists ${body.total} rooms, more than its bound`);
  return body;
}

const summary = (l: Listing) => Object.fromEntries(l.rooms.map((r) => [r.room, [r.connections, r.lastSeq]]));

test("PROTOCOL R81: past its bound the directory drops the least recently reported idle rooms; busy rooms stay, counts exact", async () => {
  // Whatever earlier tests left (rooms of their own, now idle): closed first, so every room below is new.
  for (const c of opened.splice(0)) c.room.close();
  const busy1 = await openClient(server, "dir-busy-1", "u1");
  const busy2 = await openClient(server, "dir-busy-2", "u2");
  opened.push(busy1, busy2);
  await busy1.room.send("one");
  await busy2.room.send("one");
  await busy2.room.send("two");
  // Idle rooms, one after another: each is opened, posted in, closed, and reports itself idle.
  const idle = ["dir-idle-1", "dir-idle-2", "dir-idle-3", "dir-idle-4"];
  for (const room of idle) {
    const c = await openClient(server, room, "passer");
    await c.room.send("hello");
    c.room.close();
    await waitFor(async () => summary(await listing())[room]?.[0] === 0, 10_000, `${room} reported idle`);
  }
  const after = await listing();
  assert.deepEqual(summary(after), { "dir-busy-1": [1, 1], "dir-busy-2": [1, 2], "dir-idle-4": [0, 1] }, "the busy rooms and the newest idle one");
  assert.equal(after.total, MAX_ROOMS);
  assert.ok(after.evicted >= idle.length - 1, `evicted ${after.evicted}`);
  const metrics = await server.fetchJson("/admin/metrics", { token: operator });
  const text = typeof metrics.body === "string" ? metrics.body : "";
  assert.match(text, /^kaiwa_rooms 3$/m);
  assert.match(text, new RegExp(`^kaiwa_directory_rooms_evicted_total ${after.evicted}$`, "m"));

  // A busy newcomer takes the idle room's place; an idle room that comes back while every kept room is busy is not kept.
  const busy3 = await openClient(server, "dir-busy-3", "u3");
  opened.push(busy3);
  await waitFor(async () => summary(await listing())["dir-busy-3"]?.[0] === 1, 10_000, "dir-busy-3 listed");
  assert.deepEqual(Object.keys(summary(await listing())).sort(), ["dir-busy-1", "dir-busy-2", "dir-busy-3"]);
  // The kept rooms' counts stay exact as they change.
  await busy1.room.send("again");
  await waitFor(async () => summary(await listing())["dir-busy-1"]?.[1] === 2, 10_000, "dir-busy-1's new seq");
  assert.deepEqual(summary(await listing()), { "dir-busy-1": [1, 2], "dir-busy-2": [1, 2], "dir-busy-3": [1, 0] });
});

/** Every event seen, by seq, once each: what the app put together from live events and history pages. */
function merged(...parts: RoomEvent[][]): RoomEvent[] {
  const bySeq = new Map<number, RoomEvent>();
  for (const part of parts) for (const event of part) if (!bySeq.has(event.seq)) bySeq.set(event.seq, event);
  return [...bySeq.values()].sort((a, b) => a.seq - b.seq);
}

/** Each event carries the clientId the writer was acked at its seq. */
function assertMatchesAcks(events: RoomEvent[], writer: TestClient, label: string): void {
  const bySeq = new Map([...writer.observed.acks].map(([clientId, seq]) => [seq, clientId]));
  for (const event of events) assert.equal(event.clientId, bySeq.get(event.seq), `${label}: seq ${event.seq}`);
}

test("PROTOCOL R82: a resume replays at most resumeMaxEvents; one event further is recovered: false, and paging history back ends gapless", async () => {
  const room = "replay-cap";
  const writer = await openClient(server, room, "writer", { pingIntervalMs: 600 });
  const first = await openClient(server, room, "reader", { pingIntervalMs: 600 });
  opened.push(writer, first);
  await sendAll(writer, Array.from({ length: 5 }, (_, i) => `before ${i}`));
  await waitFor(() => first.observed.events.length === 5, 10_000, "reader has seq 1-5");
  first.room.close();

  // Exactly the cap behind: the whole gap is replayed, nothing more, recovered.
  await sendAll(writer, Array.from({ length: RESUME_MAX }, (_, i) => `away ${i}`));
  const second = await openClient(server, room, "reader", { pingIntervalMs: 600, position: first.room.position! });
  opened.push(second);
  await waitFor(() => second.observed.events.length === RESUME_MAX, 10_000, "the replay");
  assert.deepEqual(second.resumes, [{ recovered: true }]);
  second.room.close();

  // One event past the cap: a typed refusal of the replay (recovered: false, too_far_behind), nothing replayed.
  await sendAll(writer, Array.from({ length: RESUME_MAX + 1 }, (_, i) => `far ${i}`));
  const last = 5 + 2 * RESUME_MAX + 1;
  const third = await openClient(server, room, "reader", { pingIntervalMs: 600, position: second.room.position! });
  opened.push(third);
  await waitFor(() => third.resets.length === 1, 10_000, "the reset");
  assert.deepEqual(third.resumes, [{ recovered: false, reason: "too_far_behind" }]);
  assert.equal(third.room.position!.lastSeq, last);
  assert.deepEqual(third.observed.events, [], "no replay past the cap");
  // The app pages back from the join point to where it was, in pages of at most maxHistoryLimit.
  const paged: RoomEvent[] = [];
  for (let before = last + 1; before > second.room.position!.lastSeq + 1; ) {
    const page = await third.room.history({ before, limit: 200 });
    assert.ok(page.events.length > 0 && page.events.length <= 200);
    paged.push(...(page.events as RoomEvent[]));
    before = page.events[0]!.seq;
  }
  await sendAll(writer, ["live again"]);
  await waitFor(() => third.observed.events.some((e) => e.seq === last + 1), 10_000, "live after the reset");
  const all = merged(first.observed.events, second.observed.events, paged, third.observed.events);
  assertGapless(all, last + 1, "reader across three sockets and its history pages");
  assertMatchesAcks(all, writer, "reader");
});

test("PROTOCOL R82: live frames held for a replaying socket past catchUpMaxBytes resync it (4013); it resumes and ends gapless", async () => {
  const room = "catch-up-cap";
  const writer = await openClient(server, room, "writer", { pingIntervalMs: 600 });
  const first = await openClient(server, room, "reader", { pingIntervalMs: 600 });
  opened.push(writer, first);
  await sendAll(writer, ["hello"]);
  await waitFor(() => first.observed.events.length === 1, 10_000, "reader has seq 1");
  first.room.close();
  await sendAll(writer, Array.from({ length: 150 }, (_, i) => `while away ${i}`));
  const stats = async () => (await server.fetchJson(`/parties/room/${room}/stats`, { token: operator })).body.work.resyncClosed as number;
  const resyncedBefore = await stats();

  // The writer floods with frames larger than the cap while the reader resumes: a live frame that commits
  // during its replay does not fit its catch-up buffer.
  const big = "y".repeat(CATCH_UP_MAX);
  let flooding = true;
  const flood = (async () => {
    while (flooding) await sendAll(writer, Array.from({ length: 10 }, () => big));
  })();
  const back = await openClient(server, room, "reader", { pingIntervalMs: 600, position: first.room.position! });
  opened.push(back);
  const resyncs: string[] = [];
  back.room.on("status", (change) => {
    if (change.reason.includes("4013")) resyncs.push(change.reason);
  });
  // A join that happened to see no live frame is followed by another: the reader rejoins until one overflows.
  await waitFor(
    async () => {
      if (resyncs.length >= 1 || (await stats()) > resyncedBefore) return true;
      if (back.room.status === "open") back.room.reconnect();
      await sleep(300);
      return false;
    },
    20_000,
    "a resync of the replaying socket",
  );
  flooding = false;
  await flood;
  const lastSeq = writer.observed.acks.size;
  await waitFor(() => back.observed.events.at(-1)?.seq === lastSeq, 20_000, "the reader caught up");
  assert.ok((await stats()) > resyncedBefore, "the room counted the resync");
  assert.ok(back.resumes.every((r) => (r as { recovered: boolean }).recovered), `every rejoin resumed: ${JSON.stringify(back.resumes)}`);
  const all = [...first.observed.events, ...back.observed.events];
  assertGapless(all, lastSeq, "reader across its sockets");
  assertMatchesAcks(all, writer, "reader");
});

test("PROTOCOL R80: an inbox closes a device that stops reading (4014); a device that only reads stays and sees every DM once", async () => {
  const bob = new KaiwaInbox({ host: server.host, user: "bob", token: () => server.token("bob"), WebSocket, fromStart: true, pingIntervalMs: 500 });
  const alice = new KaiwaRoom({ host: server.host, room: "dm:alice:bob", token: () => server.token("alice"), WebSocket, pingIntervalMs: 500 });
  const seen: number[] = [];
  bob.on("message", ({ room, event }) => {
    if (room === "dm:alice:bob") seen.push(event.seq);
  });
  const bobDrops: string[] = [];
  try {
    await waitFor(() => alice.status === "open" && bob.status === "open", 20_000, "both open");
    bob.on("status", (change) => {
      if (change.current !== "open") bobDrops.push(change.reason);
    });
    const stuck = await rawPartySocket(server, "inbox", "bob", { token: await server.token("bob"), session: "stuck" });
    await stuck.next((f) => f.type === "welcome");
    (stuck.ws as unknown as { _socket: { pause(): void } })._socket.pause();
    const acked: number[] = [];
    const text = "z".repeat(1_000);
    const until = Date.now() + 2 * IDLE_MS;
    while (Date.now() < until) {
      acked.push((await alice.send(text)).seq);
      await sleep(25);
    }
    // It reads again: what was queued, then the close. DMs keep coming until it arrives (the inbox looks
    // only when it sends).
    const resumed = (stuck.ws as unknown as { _socket: { resume(): void } })._socket;
    let closed: number | undefined;
    void stuck.closed.then(({ code }) => (closed = code));
    resumed.resume();
    while (closed === undefined && Date.now() < until + 15_000) {
      acked.push((await alice.send(text)).seq);
      await sleep(25);
    }
    assert.equal(closed, CLOSE.notReading, "the stuck device was closed as not reading");
    assert.deepEqual(bobDrops, [], "the reading device was never closed");
    await waitFor(() => seen.length === acked.length, 15_000, "bob saw every DM");
    assert.deepEqual(seen, acked, "every DM once, in order");
  } finally {
    bob.close();
    alice.close();
  }
});
