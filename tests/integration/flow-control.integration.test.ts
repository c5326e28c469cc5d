/**
 * PROTOCOL R18 against a real `partykit dev`: a user over the message rate, a socket over its frame budget
 * (valid frames or garbage) and a socket over the pending bound each get a typed, retryable `rate_limited`
 * naming the first command not decided, then close 4029; nothing after it is decided, the room's log and
 * counters are what the accepted commands made, and the next valid command gets lastSeq + 1. The typed
 * client rides through the limit with nothing lost, duplicated or reordered.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { DevServer, waitFor } from "../helpers/dev-server.ts";
import { rawSocket, closedWithin, type RawSocket } from "../helpers/raw-socket.ts";
import { openClient, sendAll, type TestClient } from "../helpers/clients.ts";
import { assertGapless, assertRoomConsistent } from "../helpers/log-check.ts";
import WebSocket from "ws";
import { KaiwaInbox } from "../../client/index.ts";
import { LIMITS, type RoomEvent } from "../../party/protocol/index.ts";

/** The room's whole log over HTTP, as a member reads it (pages of 200, oldest first). */
async function log(server: DevServer, room: string): Promise<Array<{ seq: number; clientId: string; author: { id: string } }>> {
  const token = await server.token("reader");
  const pages: any[][] = [];
  let before: number | undefined;
  for (;;) {
    const response = await server.fetchJson(`/parties/room/${room}/history?limit=200${before ? `&before=${before}` : ""}`, { token });
    assert.equal(response.status, 200, JSON.stringify(response.body));
    pages.unshift(response.body.events);
    if (!response.body.hasMore) return pages.flat();
    before = response.body.events[0].seq;
  }
}

async function open(server: DevServer, room: string, user: string, session: string, extra: Record<string, string> = {}): Promise<RawSocket> {
  const socket = await rawSocket(server, room, { token: await server.token(user), session, ...extra });
  await socket.next((f) => f.type === "welcome");
  return socket;
}

const send = (n: number, prefix = "c") => ({ type: "send", clientId: `${prefix}${n}`, n, text: `m${n}` });

describe("per-user message rate (5/s, burst 10)", () => {
  const server = new DevServer({ vars: { KAIWA_MESSAGES_PER_SECOND: 5, KAIWA_MESSAGE_BURST: 10 } });
  const clients: TestClient[] = [];
  before(() => server.start());
  after(async () => {
    for (const c of clients) c.room.close();
    await server.stop();
  });

  test("PROTOCOL R18: over the rate, rate_limited names the first refused command, the socket closes 4029, nothing after it is decided, and its resend gets lastSeq + 1", async () => {
    const room = "flow-rate";
    const flooder = await open(server, room, "flood", "f1");
    for (let n = 1; n <= 30; n++) flooder.send(send(n));
    const refused = await flooder.next((f) => f.type === "error");
    assert.equal(refused.code, "rate_limited");
    assert.equal(refused.retryable, true);
    assert.equal(refused.ref, "c11", "the burst of 10 was decided, the 11th is the first refused");
    assert.ok(refused.retryAfterMs > 0 && refused.retryAfterMs <= 1_000, `retryAfterMs ${refused.retryAfterMs}`);
    assert.equal(await closedWithin(flooder, 5_000), 4029);
    // The ten decided commands become durable (a write may still be in flight when the close arrives); their
    // acks may not have reached the socket before it closed.
    assert.equal(flooder.frames.filter((f) => f.type === "error").length, 1, "one answer for the whole flood: later frames were dropped unread");
    await waitFor(async () => (await log(server, room)).length >= 10, 10_000, "the ten decided commands durable");
    assert.deepEqual((await log(server, room)).map((e) => [e.seq, e.clientId]), Array.from({ length: 10 }, (_, i) => [i + 1, `c${i + 1}`]));
    // After the wait, the same session resends from the refused command: it is decided as lastSeq + 1.
    await new Promise((resolve) => setTimeout(resolve, refused.retryAfterMs));
    const back = await rawSocket(server, room, { token: await server.token("flood"), session: "f1" });
    const welcome = await back.next((f) => f.type === "welcome");
    assert.equal(welcome.sessionLastN, 10);
    // The client resends everything unacked in order: a decided one gets its original ack (PROTOCOL I3)...
    back.send(send(10));
    back.send(send(11));
    const acks = [await back.next((f) => f.type === "ack"), await back.next((f) => f.type === "ack" && f.acks.some((a: any) => a.clientId === "c11"))];
    assert.deepEqual(acks[0].acks.map((a: any) => [a.seq, a.clientId, a.duplicate]), [[10, "c10", true]]);
    // ...and the refused one is decided now, as lastSeq + 1.
    assert.deepEqual(acks[1].acks.map((a: any) => [a.seq, a.clientId]), [[11, "c11"]]);
    back.ws.close();
  });

  test("PROTOCOL R18: operators are not limited; another user's posts are not slowed by the flooder's limit", async () => {
    const room = "flow-others";
    const flooder = await open(server, room, "flood2", "f");
    for (let n = 1; n <= 40; n++) flooder.send(send(n));
    assert.equal((await flooder.next((f) => f.type === "error")).code, "rate_limited");
    const calm = await open(server, room, "calm", "c");
    calm.send(send(1, "calm"));
    const ack = await calm.next((f) => f.type === "ack");
    assert.deepEqual(ack.acks.map((a: any) => a.seq), [11]);
    const operator = await rawSocket(server, room, { token: await server.token("ops", { operator: true }), session: "o" });
    await operator.next((f) => f.type === "welcome");
    for (let n = 1; n <= 25; n++) operator.send(send(n, "op"));
    await operator.next((f) => f.type === "ack" && f.acks.some((a: any) => a.clientId === "op25"));
    assert.equal(operator.frames.filter((f) => f.type === "error").length, 0, "an operator posts past the user rate");
    const events = await log(server, room);
    assert.deepEqual(events.map((e) => e.seq), Array.from({ length: 36 }, (_, i) => i + 1));
    calm.ws.close();
    operator.ws.close();
  });

  test("the typed client honours rate_limited: 40 sends land once each, in send order, gapless for an observer", async () => {
    const room = "flow-client";
    const watcher = await openClient(server, room, "watcher");
    const sender = await openClient(server, room, "bot");
    clients.push(watcher, sender);
    const texts = Array.from({ length: 40 }, (_, i) => `bot ${i}`);
    const acks = await Promise.all(texts.map((text) => sender.room.send(text)));
    for (const ack of acks) {
      sender.observed.sent.push(ack.clientId);
      sender.observed.acks.set(ack.clientId, ack.seq);
    }
    assert.deepEqual(acks.map((a) => a.seq), Array.from({ length: 40 }, (_, i) => i + 1), "acked in send order");
    assert.ok(sender.statuses.includes("reconnecting"), "the limit closed the socket at least once");
    await waitFor(() => watcher.observed.events.length === 40 && sender.observed.events.length === 40, 20_000, "both saw all 40");
    assertRoomConsistent([watcher.observed, sender.observed], 40);
    assert.deepEqual(watcher.observed.events.map((e) => (e.kind === "message" ? e.text : "")), texts);
  });

  test("PROTOCOL R18: DMs count against the same per-user rate over all of a user's devices; the typed inbox rides through it, nothing lost, duplicated or reordered", async () => {
    // Two devices of one user: the bucket is the user's, not the device's.
    const devices = [1, 2].map(() => new KaiwaInbox({ host: server.host, user: "fran", token: () => server.token("fran"), WebSocket, backoff: { baseMs: 50, capMs: 500 } }));
    const peer = new KaiwaInbox({ host: server.host, user: "gus", token: () => server.token("gus"), WebSocket, fromStart: true });
    const seen: RoomEvent[] = [];
    peer.on("event", ({ room, event }) => {
      if (room === "dm:fran:gus") seen.push(event);
    });
    const statuses: string[] = [];
    for (const device of devices) device.on("status", ({ current, reason }) => statuses.push(`${current}: ${reason}`));
    await waitFor(() => [...devices, peer].every((d) => d.status === "open"), 20_000, "devices open");
    const results = await Promise.all(Array.from({ length: 30 }, (_, i) => devices[i % 2]!.sendDm("gus", `fran ${i}`)));
    console.log(`DM rate: ${statuses.filter((s) => s.startsWith("reconnecting")).length} cut-offs for 30 DMs`);
    assert.ok(statuses.some((s) => s.startsWith("reconnecting")), "the limit closed a device's socket at least once");
    // Each device's DMs in its own send order (PROTOCOL I4), every one acked once at a distinct seq.
    assert.equal(new Set(results.map((r) => r.seq)).size, 30);
    for (const device of [0, 1]) {
      const mine = results.filter((_, i) => i % 2 === device).map((r) => r.seq);
      assert.deepEqual(mine, [...mine].sort((a, b) => a - b), `device ${device} acked in send order`);
    }
    await waitFor(() => seen.length === 30, 20_000, "the peer saw all 30");
    assertGapless(seen, 30, "gus");
    assert.deepEqual(seen.map((e) => [e.seq, e.clientId]).sort((a, b) => Number(a[0]) - Number(b[0])), results.map((r) => [r.seq, r.clientId]).sort((a, b) => Number(a[0]) - Number(b[0])), "the log is exactly the acked DMs");
    for (const d of [...devices, peer]) d.close();
  });
});

describe("frame budget and pending bound (message rate lifted)", () => {
  const server = new DevServer({ vars: { KAIWA_TEST_WRITE_DELAY_MS: 300 } });
  before(() => server.start());
  after(() => server.stop());

  test("PROTOCOL R18, I8: a flood of invalid frames gets typed errors until its budget is spent, then rate_limited and 4029; the room is unchanged", async () => {
    const room = "flow-garbage";
    const writer = await open(server, room, "w", "w");
    writer.send(send(1));
    await writer.next((f) => f.type === "ack");
    const flooder = await open(server, room, "junk", "j");
    const floodStarted = Date.now();
    for (let i = 0; i < 2_000; i++) flooder.send("{not json");
    const limited = await flooder.next((f) => f.type === "error" && f.code === "rate_limited", 20_000);
    // The budget refills while the flood is read: on a loaded machine that takes a while (bounds.integration).
    const refilled = Math.ceil(((Date.now() - floodStarted) / 1000) * LIMITS.socketFramesPerSecond);
    assert.equal(limited.ref, undefined, "a frame-budget refusal names no command");
    assert.equal(await closedWithin(flooder, 5_000), 4029);
    const badFrames = flooder.frames.filter((f) => f.type === "error" && f.code === "bad_frame").length;
    assert.ok(badFrames >= LIMITS.socketFrameBurst - 100 && badFrames <= LIMITS.socketFrameBurst + refilled + 5, `${badFrames} bad_frame answers before the budget ran out (burst ${LIMITS.socketFrameBurst}, ${refilled} refilled)`);
    writer.send(send(2));
    const ack = await writer.next((f) => f.type === "ack" && f.acks.some((a: any) => a.clientId === "c2"));
    assert.equal(ack.acks[0].seq, 2, "the next valid command gets lastSeq + 1");
    assert.deepEqual((await log(server, room)).map((e) => [e.seq, e.clientId]), [[1, "c1"], [2, "c2"]]);
    writer.ws.close();
  });

  test("PROTOCOL R18: a socket that piles more than 1,024 commands behind slow writes is cut off at the first one over; what was decided stays, contiguous", async () => {
    const room = "flow-pending";
    const flooder = await open(server, room, "heap", "h");
    // 1,536 commands in 12 batch frames, well inside the frame budget, sent while writes take 300 ms each.
    for (let frame = 0; frame < 12; frame++) {
      flooder.send({ type: "batch", commands: Array.from({ length: 128 }, (_, i) => send(frame * 128 + i + 1)) });
    }
    const limited = await flooder.next((f) => f.type === "error", 30_000);
    assert.equal(limited.code, "rate_limited");
    assert.equal(await closedWithin(flooder, 10_000), 4029);
    const firstRefused = Number(String(limited.ref).slice(1));
    assert.ok(firstRefused > 1_000 && firstRefused <= 1_025, `first refused n ${firstRefused}`);
    await waitFor(async () => (await log(server, room)).length === firstRefused - 1, 30_000, "every decided command durable");
    const events = await log(server, room);
    assert.deepEqual(events.map((e) => e.clientId), Array.from({ length: firstRefused - 1 }, (_, i) => `c${i + 1}`), "exactly the commands before the refused one, in order");
    const acked = flooder.frames.filter((f) => f.type === "ack").flatMap((f) => f.acks).map((a: any) => a.seq);
    assert.deepEqual(acked, Array.from({ length: acked.length }, (_, i) => i + 1), "acks that reached the socket before it closed are gapless");
  });
});

describe("the room's window (message rate lifted, writes slowed to 50 ms)", () => {
  const server = new DevServer({ vars: { KAIWA_MESSAGES_PER_SECOND: 0, KAIWA_TEST_WRITE_DELAY_MS: 50 } });
  const clients: TestClient[] = [];
  before(() => server.start());
  after(async () => {
    for (const c of clients) c.room.close();
    await server.stop();
  });

  test("PROTOCOL R84: the welcome grants 128; the typed client keeps at most 128 unacked while 300 sends wait, and all land once, in order, gapless", async () => {
    const room = "flow-window";
    const raw = await open(server, room, "peek", "p");
    assert.equal(raw.frames.find((f) => f.type === "welcome")!.window, 128);
    raw.ws.close();
    // The socket the client opens counts what it puts in flight (commands sent, acks received).
    let unacked = 0;
    let most = 0;
    class CountingSocket extends WebSocket {
      constructor(...args: ConstructorParameters<typeof WebSocket>) {
        super(...args);
        this.addEventListener("message", (event) => {
          if (typeof event.data !== "string") return; // binary frames are awareness (PROTOCOL R72), never acks
          const frame = JSON.parse(event.data);
          if (frame.type === "ack") unacked -= frame.acks.length;
        });
      }
      override send(data: any, ...rest: any[]): void {
        const frame = typeof data !== "string" || data === "ping" ? undefined : JSON.parse(data);
        if (frame?.type === "batch") unacked += frame.commands.length;
        else if (frame?.type === "send") unacked += 1;
        most = Math.max(most, unacked);
        (super.send as (...a: any[]) => void)(data, ...rest);
      }
    }
    const observer = await openClient(server, room, "watcher");
    const sender = await openClient(server, room, "sender", { WebSocket: CountingSocket as unknown as typeof WebSocket });
    clients.push(observer, sender);
    await sendAll(sender, Array.from({ length: 300 }, (_, i) => `w${i}`));
    assert.ok(most <= 128, `at most the granted 128 in flight, saw ${most}`);
    assert.ok(most >= 64, `the window was used, not one at a time (saw ${most})`);
    await waitFor(() => observer.observed.events.length === 300 && sender.observed.events.length === 300, 30_000, "both saw all 300");
    assertRoomConsistent([observer.observed, sender.observed], 300);
    assert.deepEqual(sender.observed.sent.map((id) => sender.observed.acks.get(id)), Array.from({ length: 300 }, (_, i) => i + 1), "acked in the order sent");
  });

  test("PROTOCOL R84, R18: a socket that ignores the window is served up to the pending bound, not cut off at 128; the next command gets lastSeq + 1", async () => {
    const room = "flow-window-ignored";
    const greedy = await open(server, room, "greedy", "g");
    for (let frame = 0; frame < 3; frame++) greedy.send({ type: "batch", commands: Array.from({ length: 100 }, (_, i) => send(frame * 100 + i + 1)) });
    await waitFor(() => greedy.frames.filter((f) => f.type === "ack").flatMap((f) => f.acks).length === 300, 30_000, "300 acks");
    assert.equal(greedy.frames.filter((f) => f.type === "error").length, 0, "no refusal below the pending bound");
    greedy.send(send(301));
    const next = await greedy.next((f) => f.type === "ack" && f.acks.some((a: any) => a.clientId === "c301"));
    assert.equal(next.acks.find((a: any) => a.clientId === "c301").seq, 301);
    greedy.ws.close();
  });
});
