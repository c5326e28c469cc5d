/**
 * Issue 4, the main proof against a real `partykit dev` with real typed clients (KaiwaInbox over
 * partysocket): alice and bob, two devices each, exchange 500 DMs each while devices drop and reconnect at
 * random and mark read on random devices at random times. Every device ends with the whole conversation,
 * gapless, duplicate-free, in one order (by seq and clientId), and the unread counts equal the truth
 * computed here from the log and the read positions the server acknowledged.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import WebSocket from "ws";
import { KaiwaInbox } from "../../client/index.ts";
import type { RoomEvent } from "../../party/protocol/index.ts";
import { DevServer, waitFor } from "../helpers/dev-server.ts";
import { assertGapless } from "../helpers/log-check.ts";

const DM = "dm:alice:bob";
const PER_USER = 500;
const server = new DevServer();

type Device = { user: string; name: string; inbox: KaiwaInbox; events: RoomEvent[] };
let devices: Device[] = [];

before(async () => {
  await server.start();
});
after(async () => {
  for (const device of devices) device.inbox.close();
  await server.stop();
});

function open(user: string, name: string): Device {
  const inbox = new KaiwaInbox({ host: server.host, user, token: () => server.token(user), WebSocket, fromStart: true, backoff: { baseMs: 50, capMs: 500 } });
  const device: Device = { user, name, inbox, events: [] };
  inbox.on("event", ({ room, event }) => {
    if (room === DM) device.events.push(event);
  });
  return device;
}

describe("two users, two devices each, 500 DMs each under random drops and reads", () => {
  it("ends with the whole conversation on every device and exact unread counts (PROTOCOL IB4)", async () => {
    devices = [open("alice", "a1"), open("alice", "a2"), open("bob", "b1"), open("bob", "b2")];
    await waitFor(() => devices.every((d) => d.inbox.status === "open"), 30_000, "all devices open");

    let seed = 42;
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const acked = new Map<string, { user: string; seq: number }>();
    const readAcked: Record<string, number> = { alice: 0, bob: 0 };
    let drops = 0;
    let reads = 0;
    let chaos = true;
    /** Every read the chaos asked for, settled: what was asked, and the stored position or the error. */
    type Read = { user: string; seq: number; readSeq?: number; error?: string };
    const readLog: Read[] = [];
    const pendingReads: Array<Promise<void>> = [];

    // Chaos: every 50-150 ms one device drops its socket or marks read at what it has seen.
    const chaosLoop = (async () => {
      while (chaos) {
        await new Promise((resolve) => setTimeout(resolve, 50 + rand() * 100));
        const device = devices[Math.floor(rand() * devices.length)]!;
        if (rand() < 0.5) {
          drops++;
          device.inbox.reconnect();
        } else {
          const seen = device.events.at(-1)?.seq ?? 0;
          if (seen === 0) continue;
          reads++;
          const read: Read = { user: device.user, seq: seen };
          readLog.push(read);
          // Settled before the truth is computed; a failure is kept (with its code), not swallowed.
          pendingReads.push(
            device.inbox.markRead(DM, seen).then(
              (result) => {
                read.readSeq = result.readSeq;
                readAcked[device.user] = Math.max(readAcked[device.user]!, result.readSeq);
              },
              (error: { code?: string; message?: string }) => void (read.error = `${error.code ?? ""} ${error.message ?? String(error)}`),
            ),
          );
        }
      }
    })();

    // Each user sends 500, alternating devices, in bursts so drops land mid-flight.
    const sends: Array<Promise<void>> = [];
    for (let i = 0; i < PER_USER; i++) {
      for (const user of ["alice", "bob"]) {
        const device = devices.filter((d) => d.user === user)[i % 2]!;
        const to = user === "alice" ? "bob" : "alice";
        sends.push(
          device.inbox.sendDm(to, `${user} #${i}`).then((result) => {
            assert.equal(result.room, DM);
            assert.equal(acked.has(`${user}/${result.clientId}`), false, "one ack per DM");
            acked.set(`${user}/${result.clientId}`, { user, seq: result.seq });
          }),
        );
      }
      if (i % 10 === 9) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await Promise.all(sends);
    chaos = false;
    await chaosLoop;
    await Promise.all(pendingReads);
    const total = PER_USER * 2;

    // The reads: a read is retried on the next socket after a drop, so nearly all must succeed; the unread
    // truth below rests on the successful ones only, so enough of them, for both users, must have moved
    // the position, and each answer is what forward-only reads imply.
    const succeeded = readLog.filter((r) => r.readSeq !== undefined);
    const failed = readLog.filter((r) => r.error !== undefined);
    assert.equal(succeeded.length + failed.length, reads, "every read settled");
    assert.ok(succeeded.length >= 10 && succeeded.length >= reads * 0.9, `only ${succeeded.length} of ${reads} reads succeeded; failures: ${failed.map((r) => r.error).join("; ")}`);
    for (const user of ["alice", "bob"]) {
      const mine = succeeded.filter((r) => r.user === user);
      assert.ok(mine.length >= 3, `${user}: ${mine.length} successful reads`);
      // Each answer is the stored position: at least what was asked (forward only, PROTOCOL I6)...
      for (const r of mine) assert.ok(r.readSeq! >= r.seq, `${user}: read of ${r.seq} answered ${r.readSeq}`);
      // ...and the final one is the highest asked of all reads that could have reached the room.
      const highestAsked = Math.max(...readLog.filter((r) => r.user === user && r.error === undefined).map((r) => r.seq));
      assert.equal(readAcked[user], highestAsked, `${user}: the stored read position is the highest successful read`);
      assert.ok(readAcked[user]! > 0 && readAcked[user]! <= total, `${user}: a read position inside the conversation (${readAcked[user]})`);
    }

    // Every device converges on the whole log.
    await waitFor(() => devices.every((d) => d.events.length >= total && d.inbox.status === "open"), 60_000, "every device has all events");
    const reference = devices[0]!.events;
    assertGapless(reference, total, "a1");
    for (const device of devices) {
      assertGapless(device.events, total, device.name);
      device.events.forEach((event, i) => assert.equal(event.clientId, reference[i]!.clientId, `${device.name}: seq ${event.seq}`));
    }
    const byClient = new Map(reference.map((e) => [`${e.author.id}/${e.clientId}`, e.seq]));
    assert.equal(byClient.size, total, "no clientId twice in the log");
    assert.equal(acked.size, total);
    for (const [key, { seq }] of acked) assert.equal(byClient.get(key), seq, `ack of ${key} names its seq in the log`);
    for (const user of ["alice", "bob"]) {
      const texts = reference.filter((e) => e.author.id === user).map((e) => (e.kind === "message" ? e.text : ""));
      const own = texts.map((t) => Number(t.split("#")[1]));
      // Per-device order (PROTOCOL I4, IB1): each device's own messages appear in the order it sent them.
      for (const parity of [0, 1]) {
        const mine = own.filter((n) => n % 2 === parity);
        assert.deepEqual(mine, [...mine].sort((a, b) => a - b), `${user} device ${parity + 1} order`);
      }
    }

    // Unread: other people's messages above the acknowledged read position, on the server and every device.
    const truth = (user: string) => reference.filter((e) => e.author.id !== user && e.seq > readAcked[user]!).length;
    for (const user of ["alice", "bob"]) {
      await waitFor(async () => {
        const list = await server.fetchJson(`/parties/inbox/${user}/conversations`, { token: await server.token(user) });
        const row = list.body.conversations.find((c: any) => c.room === DM);
        return row?.readSeq === readAcked[user] && row.unread === truth(user) && row.lastSeq === total;
      }, 15_000, `${user}'s list: readSeq ${readAcked[user]}, unread ${truth(user)}`);
      for (const device of devices.filter((d) => d.user === user)) {
        await waitFor(() => device.inbox.unread(DM) === truth(user), 15_000, `${device.name} unread ${truth(user)} (has ${device.inbox.unread(DM)})`);
        assert.equal(device.inbox.totalUnread, truth(user));
      }
    }
    assert.ok(drops >= 10, `chaos dropped sockets ${drops} times`);
    assert.ok(reads >= 10, `chaos marked read ${reads} times`);
    console.log(`chaos: ${drops} drops, ${reads} reads (${succeeded.length} succeeded, ${failed.length} failed); read at alice ${readAcked.alice}, bob ${readAcked.bob}; unread alice ${truth("alice")}, bob ${truth("bob")}`);

    // Reading on one device clears it on all of them.
    const a1 = devices[0]!;
    await a1.inbox.markRead(DM, total);
    await waitFor(() => devices.filter((d) => d.user === "alice").every((d) => d.inbox.unread(DM) === 0 && d.inbox.totalUnread === 0), 10_000, "alice's devices all at 0");
  });
});
