/**
 * When a bench run ends with work unfinished, the kaiwa target asks each such room where its commands
 * wait (bench/targets/kaiwa-room-state.ts, over the operator stats route's `work`). Against real
 * `partykit dev` servers this proves the line tells a settled room from one whose write has not
 * confirmed (writes slowed by the test switch) and from one whose write failed (the failure switch),
 * and that a server that never answers, or refuses, gives a reason instead of hanging the report.
 */
import assert from "node:assert/strict";
import { createServer, type Socket } from "node:net";
import { after, before, test } from "node:test";
import { describeRoom } from "../../bench/targets/kaiwa-room-state.ts";
import { KaiwaTarget } from "../../bench/targets/kaiwa.ts";
import type { Conn, Target } from "../../bench/targets/types.ts";
import { sleep, waitFor } from "../helpers/dev-server.ts";
import { freePort } from "../helpers/free-port.ts";

const WRITE_DELAY_MS = 3_000;
const slow = new KaiwaTarget({ vars: { KAIWA_TEST_WRITE_DELAY_MS: String(WRITE_DELAY_MS) } });
const failing = new KaiwaTarget({ vars: { KAIWA_TEST_FAIL_WRITE_AT: "2" } });
before(() => Promise.all([slow.start(), failing.start()]));
after(() => Promise.all([slow.stop(), failing.stop()]));

function sender(target: Target, room: string, acked: Set<string>, closes: number[] = []): Promise<Conn> {
  return target.connect({ room, user: "stall-probe", session: "s1", handlers: { onAck: (clientId) => void acked.add(clientId), onClose: (code) => void closes.push(code) } });
}

async function describe(target: KaiwaTarget, room: string): Promise<string> {
  const { rooms } = await target.describeRooms([room]);
  return rooms[0]!;
}

test("bench: a room whose write has not confirmed says so, and a settled room says it is idle", async () => {
  const room = `stall-report-${Date.now().toString(36)}`;
  const acked = new Set<string>();
  const conn = await sender(slow, room, acked);
  const sentAt = performance.now();
  conn.send("c1", 1, "first");
  // Awaited, not slept: c1's write is under way (so c2 and c3 cannot join it) before they are sent.
  let line = "";
  await waitFor(async () => /accepted 1 in 1 write, .*a write in flight for \d+ ms, 0 collecting/.test((line = await describe(slow, room))), WRITE_DELAY_MS, `c1's write in flight (last: ${line})`);
  const seenInFlightAt = performance.now();
  // Time passes on purpose (not a wait for a condition): the write's age must then be told from the age of
  // the commands that arrived later.
  await sleep(500);
  conn.send("c2", 2, "second");
  conn.send("c3", 3, "third");
  let during = "";
  await waitFor(async () => /accepted 3 in 1 write/.test((during = await describe(slow, room))), WRITE_DELAY_MS, `c2 and c3 accepted (last: ${during})`);
  const describedAt = performance.now();
  assert.equal(acked.size, 0, "nothing acked while the write is slowed");
  assert.match(during, /^lastSeq 0, 1 socket, accepted 3 in 1 write, rejected none, storage failures 0, release failures 0, a write in flight for \d+ ms, 2 collecting behind it, 0 tasks queued, not broken, 0 sockets closed to resync since start$/);
  const inFlightMs = Number(/in flight for (\d+) ms/.exec(during)![1]);
  // The write was already in flight when first seen, 500 ms before c2: its age covers at least that span,
  // and at most the time since c1 was sent (a few ms of the room's coarse clock allowed).
  assert.ok(inFlightMs >= 500 && inFlightMs <= describedAt - sentAt + 50, `the write's age (${inFlightMs} ms) is the time since c1's write began (seen in flight ${Math.round(describedAt - seenInFlightAt)} ms before, c1 sent ${Math.round(describedAt - sentAt)} ms before)`);
  assert.ok(inFlightMs < WRITE_DELAY_MS);
  await waitFor(() => acked.size === 3, 3 * WRITE_DELAY_MS + 5_000, "all three acked");
  assert.match(await describe(slow, room), /^lastSeq 3, 1 socket, accepted 3 in 2 writes, rejected none, storage failures 0, release failures 0, no write in flight, 0 collecting behind it, 0 tasks queued, not broken, 0 sockets closed to resync since start$/);
  conn.close();
});

test("bench: a room whose write failed names the failure and the socket it closed to resync", async () => {
  const room = `stall-failed-${Date.now().toString(36)}`;
  const acked = new Set<string>();
  const closes: number[] = [];
  const conn = await sender(failing, room, acked, closes);
  conn.send("c1", 1, "stored");
  await waitFor(() => acked.has("c1"), 10_000, "c1 acked");
  conn.send("c2", 2, "its write fails");
  await waitFor(() => closes.length > 0, 10_000, "the room closes the socket");
  assert.deepEqual(closes, [4013], "closed to resync (4013)");
  // `broken` is not asserted: the room reloads its state right after the failure and clears it.
  assert.match(await describe(failing, room), /^lastSeq 1, 0 sockets, accepted 2 in 2 writes, rejected storage_failed 1, storage failures 1, release failures 0, no write in flight, 0 collecting behind it, 0 tasks queued, (not broken|BROKEN[^,]*), 1 socket closed to resync since start$/);
});

test("bench: a server that never answers is reported as such within the time allowed", async () => {
  const held: Socket[] = [];
  const silent = createServer((socket) => void held.push(socket)); // accepts, reads, never replies
  const port = await freePort();
  await new Promise<void>((resolve) => silent.listen(port, "127.0.0.1", resolve));
  try {
    const startedAt = performance.now();
    assert.equal(await describeRoom(`http://127.0.0.1:${port}`, "any-room", "token", 300), "stats not answered within 0.3 s");
    assert.ok(performance.now() - startedAt < 2_000, "gave up on time");
  } finally {
    for (const socket of held) socket.destroy();
    silent.close();
  }
});

test("bench: a refused connection is reported with its cause", async () => {
  const port = await freePort(); // nothing listens here
  assert.match(await describeRoom(`http://127.0.0.1:${port}`, "any-room", "token"), /^stats not read: TypeError: fetch failed \(Error: connect ECONNREFUSED 127\.0\.0\.1:\d+\)$/);
});
