/**
 * PROTOCOL I2 directly, against a real `partykit dev`: with every storage write slowed by a test-only switch, no ack
 * and no broadcast is seen before the write resolves; and a count of `put` calls shows group commit.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { DevServer, waitFor } from "../helpers/dev-server.ts";
import { openClient } from "../helpers/clients.ts";
import { assertRoomConsistent } from "../helpers/log-check.ts";
import { closedWithin, rawSocket } from "../helpers/raw-socket.ts";
import { KaiwaAdmin } from "../../client/admin.ts";

const WRITE_DELAY_MS = 400;
const slow = new DevServer({ vars: { KAIWA_TEST_WRITE_DELAY_MS: WRITE_DELAY_MS } });
const normal = new DevServer();
before(() => Promise.all([slow.start(), normal.start()]));
after(() => Promise.all([slow.stop(), normal.stop()]));

test("with slow writes, acks and broadcasts wait for the write (nothing visible early)", async () => {
  const room = "slow-disk";
  const sender = await rawSocket(slow, room, { token: await slow.token("alice"), session: "a" });
  const observer = await rawSocket(slow, room, { token: await slow.token("bob"), session: "b" });
  await sender.next((f) => f.type === "welcome");
  await observer.next((f) => f.type === "welcome");
  const seen: Array<{ what: string; at: number }> = [];
  sender.ws.on("message", (d) => seen.push({ what: `sender:${JSON.parse(d.toString()).type}`, at: performance.now() }));
  observer.ws.on("message", (d) => seen.push({ what: `observer:${JSON.parse(d.toString()).type}`, at: performance.now() }));
  const sentAt = performance.now();
  for (let n = 1; n <= 5; n++) sender.send({ type: "send", clientId: `c${n}`, n, text: `slow ${n}` });
  // Meanwhile, history must not show the messages either (PROTOCOL I2 for reads).
  observer.send({ type: "history", requestId: "h1", limit: 10 });
  const early = await observer.next((f) => f.type === "history");
  assert.deepEqual(early.events, [], "history shows nothing that is not yet durable");
  await sender.next((f) => f.type === "ack" && f.acks.some((a: any) => a.clientId === "c5"));
  await observer.next((f) => f.type === "events" && f.events.some((e: any) => e.seq === 5));
  // Nothing lost, nothing twice, order kept, by seq and by clientId: c1..c5 acked at 1..5, and the observer
  // saw exactly those, each once, in that order.
  await waitFor(() => sender.frames.filter((f) => f.type === "ack").flatMap((f) => f.acks).length >= 5, 10_000, "five acks");
  const acks = sender.frames.filter((f) => f.type === "ack").flatMap((f) => f.acks.map((a: any) => [a.clientId, a.seq]));
  assert.deepEqual(acks, [["c1", 1], ["c2", 2], ["c3", 3], ["c4", 4], ["c5", 5]], "one ack per command, at its seq");
  const observed = observer.frames.filter((f) => f.type === "events").flatMap((f) => f.events.map((e: any) => [e.seq, e.author.id, e.clientId]));
  assert.deepEqual(observed, [1, 2, 3, 4, 5].map((n) => [n, "alice", `c${n}`]), "the observer saw each acked message once, in order");
  const visible = seen.filter((s) => s.what === "sender:ack" || s.what.endsWith(":events"));
  assert.ok(visible.length >= 2);
  for (const { what, at } of visible) {
    assert.ok(at - sentAt >= WRITE_DELAY_MS - 5, `${what} arrived ${Math.round(at - sentAt)} ms after sending, before the ${WRITE_DELAY_MS} ms write resolved`);
  }
  sender.ws.close();
  observer.ws.close();
});

test("group commit: 1,000 messages in flight take far fewer flushes and puts than messages (PROTOCOL R2)", async () => {
  const room = "group-commit";
  const sender = await rawSocket(normal, room, { token: await normal.token("alice"), session: "a" });
  await sender.next((f) => f.type === "welcome");
  // In batch frames of 128 (PROTOCOL R17), as the client sends a burst: 1,000 single frames at once would be
  // over one user's frame budget (PROTOCOL R18) and cut off.
  for (let first = 1; first <= 1000; first += 128) {
    const commands = [];
    for (let n = first; n < Math.min(first + 128, 1001); n++) commands.push({ type: "send", clientId: `g${n}`, n, text: `batch ${n}` });
    sender.send({ type: "batch", commands });
  }
  await sender.next((f) => f.type === "ack" && f.acks.some((a: any) => a.clientId === "g1000"), 30_000);
  const acked = sender.frames.filter((f) => f.type === "ack").flatMap((f) => f.acks.map((a: any) => [a.clientId, a.seq]));
  assert.deepEqual(acked, Array.from({ length: 1000 }, (_, i) => [`g${i + 1}`, i + 1]), "each clientId acked once, at the seq of its sending order");
  const { body } = await normal.fetchJson(`/parties/room/${room}/stats`, { token: await normal.token("ops", { operator: true }) });
  assert.equal(body.commands.accepted, 1000);
  assert.ok(body.writes.flushes < 100, `expected batched flushes, got ${body.writes.flushes} for 1000 messages`);
  assert.ok(body.writes.puts < 200, `expected batched puts, got ${body.writes.puts}`);
  assert.ok(body.writes.keys / body.writes.puts > 5, "several keys per put");
  sender.ws.close();
});

test("a failed write: the batch and everything after it is refused, sockets resync (4013), clients resend in order (PROTOCOL R3)", async () => {
  const failing = new DevServer({ vars: { KAIWA_TEST_FAIL_WRITE_AT: 3 } });
  await failing.start();
  const clients = await Promise.all(["f0", "f1", "f2"].map((user) => openClient(failing, "failing-disk", user)));
  try {
    const loads = clients.map(async (client) => {
      // Sent over many turns (10 per turn), so the room makes several writes and the third one fails with more behind it.
      const sent: Array<Promise<{ clientId: string; seq: number }>> = [];
      for (let i = 0; i < 150; i++) {
        sent.push(client.room.send(`${client.observed.userId} #${i}`));
        if (i % 10 === 9) await new Promise((resolve) => setTimeout(resolve, 5));
      }
      const acks = await Promise.all(sent);
      client.observed.sent = acks.map((ack) => ack.clientId);
      for (const ack of acks) client.observed.acks.set(ack.clientId, ack.seq);
    });
    await Promise.all(loads);
    await waitFor(() => clients.every((c) => c.observed.events.length === 450), 30_000, "450 events everywhere");
    const { body } = await failing.fetchJson("/parties/room/failing-disk/stats", { token: await failing.token("ops", { operator: true }) });
    assert.equal(body.commands.storageFailures, 1, "the injected failure happened");
    assert.ok(body.commands.rejected.storage_failed >= 1);
    assert.ok(clients.some((c) => c.statuses.includes("reconnecting")), "affected clients were made to reconnect (4013)");
    assertRoomConsistent(clients.map((c) => c.observed), 450);
  } finally {
    for (const c of clients) c.room.close();
    await failing.stop();
  }
});

/**
 * PROTOCOL R3a. The failure hits the last batch, so no later event reveals a gap to the clients: only the room's
 * own repair recovers it (the typed client would also resync on its own after a gap).
 */
for (const stage of ["release", "state"] as const) {
  const when = stage === "release" ? "after the room's state took the batch" : "before the room's state took it (the room reloads)";
  test(`a release that throws ${when}: every socket resyncs (4013), resume replays the event, the resend gets its stored ack`, async () => {
    const breaking = new DevServer({ vars: { KAIWA_TEST_FAIL_RELEASE_AT: 2, KAIWA_TEST_FAIL_RELEASE_STAGE: stage } });
    await breaking.start();
    try {
      const room = `broken-release-${stage}`;
      const sender = await rawSocket(breaking, room, { token: await breaking.token("alice"), session: "a" });
      const observer = await rawSocket(breaking, room, { token: await breaking.token("bob"), session: "b" });
      const { epoch } = await sender.next((f) => f.type === "welcome");
      await observer.next((f) => f.type === "welcome");
      sender.send({ type: "send", clientId: "c1", n: 1, text: "released" });
      await observer.next((f) => f.type === "events" && f.events.some((e: any) => e.seq === 1));
      sender.send({ type: "send", clientId: "c2", n: 2, text: "stored, release throws" });
      // Bounded: a missing resync fails in 10 s, not at the suite's timeout.
      const closes = await Promise.all([closedWithin(sender, 10_000), closedWithin(observer, 10_000)]);
      assert.deepEqual(closes, [4013, 4013], "both sockets, not only the sender's, are made to resync");
      assert.ok(!sender.frames.some((f) => f.type === "ack" && f.acks.some((a: any) => a.clientId === "c2")), "the failed release sent no ack");
      assert.ok(!observer.frames.some((f) => f.type === "events" && f.events.some((e: any) => e.seq === 2)), "nor the event");

      const resumed = await rawSocket(breaking, room, { token: await breaking.token("alice"), session: "a", epoch, lastSeq: "1" });
      const welcome = await resumed.next((f) => f.type === "welcome");
      assert.equal(welcome.lastSeq, 2, "the durable event counts");
      assert.equal(welcome.sessionLastN, 2, "the session knows c2 was stored");
      const replay = await resumed.next((f) => f.type === "events" && f.events.some((e: any) => e.seq === 2));
      assert.deepEqual(replay.events.map((e: any) => [e.seq, e.clientId]), [[2, "c2"]]);
      resumed.send({ type: "send", clientId: "c2", n: 2, text: "stored, release throws" });
      const ack = await resumed.next((f) => f.type === "ack" && f.acks.some((a: any) => a.clientId === "c2"));
      assert.deepEqual(ack.acks.map(({ clientId, seq, duplicate }: any) => ({ clientId, seq, duplicate })), [{ clientId: "c2", seq: 2, duplicate: true }], "the resend is answered with the stored seq");
      resumed.send({ type: "send", clientId: "c3", n: 3, text: "after the repair" });
      await resumed.next((f) => f.type === "ack" && f.acks.some((a: any) => a.clientId === "c3" && a.seq === 3));

      const watcher = await rawSocket(breaking, room, { token: await breaking.token("bob"), session: "b", epoch, lastSeq: "1" });
      const seen = await watcher.next((f) => f.type === "events" && f.events.some((e: any) => e.seq === 3));
      const seqs = watcher.frames.filter((f) => f.type === "events").flatMap((f) => f.events.map((e: any) => [e.seq, e.clientId]));
      assert.ok(seen);
      assert.deepEqual(seqs, [[2, "c2"], [3, "c3"]], "the observer's resume is gapless and has each event once");
      const { body } = await breaking.fetchJson(`/parties/room/${room}/stats`, { token: await breaking.token("ops", { operator: true }) });
      assert.deepEqual(
        { accepted: body.commands.accepted, releaseFailures: body.commands.releaseFailures, storageFailures: body.commands.storageFailures, lastSeq: body.lastSeq, broken: body.work.broken },
        { accepted: 3, releaseFailures: 1, storageFailures: 0, lastSeq: 3, broken: false },
      );
      resumed.ws.close();
      watcher.ws.close();
    } finally {
      await breaking.stop();
    }
  });
}

test("a release that throws answers its HTTP callers: an operator's announcement still gets its seq", async () => {
  const breaking = new DevServer({ vars: { KAIWA_TEST_FAIL_RELEASE_AT: 1 } });
  await breaking.start();
  try {
    const room = "broken-release-admin";
    const observer = await rawSocket(breaking, room, { token: await breaking.token("bob"), session: "b" });
    await observer.next((f) => f.type === "welcome");
    const admin = new KaiwaAdmin({ baseUrl: breaking.url, token: () => breaking.token("ops", { operator: true }) });
    const answered = await Promise.race([admin.announce(room, "maintenance at noon", "ann-1"), new Promise<never>((_, reject) => setTimeout(() => reject(new Error("the announcement was not answered")), 10_000))]);
    assert.equal(answered.seq, 1);
    assert.equal(await closedWithin(observer, 10_000), 4013);
    assert.equal((await admin.announce(room, "maintenance at noon", "ann-1")).seq, 1, "a retry of the same action is answered from dedupe");
  } finally {
    await breaking.stop();
  }
});
