/**
 * Chaos against a real `partykit dev`: the server's whole process group is SIGKILLed while clients send,
 * then restarted on the same persisted state; separately, client sockets drop at random. Nothing acked is
 * lost, nothing is duplicated (by clientId), seqs stay gapless, and clients resume with recovered: true.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { DevServer, sleep, waitFor } from "../helpers/dev-server.ts";
import { openClient, type TestClient } from "../helpers/clients.ts";
import { assertRoomConsistent } from "../helpers/log-check.ts";

// Every write waits 30 ms more (as a slow disk would): batches of commands then always have acks
// outstanding, so each kill lands while messages are unacked, however fast this machine is.
const server = new DevServer({ vars: { KAIWA_TEST_WRITE_DELAY_MS: 30 } });
const opened: TestClient[] = [];
before(() => server.start());
after(async () => {
  for (const c of opened) c.room.close(); // also on failure, or the runner waits on open sockets
  await server.stop();
});

type Load = { sent: number; acked: number; done: Promise<void>; order: string[] };

/**
 * Sends `count` messages in bursts of 20 without awaiting acks between bursts; records order and acks.
 * With `pauseWhileDown`, no new burst starts while the client's socket is not open: the load then spans
 * the restarts instead of piling up during one, so a later kill still finds messages in flight (a pile
 * of 1,200 resent at once can be acked whole between two polls, leaving nothing in flight to kill under).
 */
function startLoad(client: TestClient, count: number, pauseMs: number, pauseWhileDown = false): Load {
  const load: Load = { sent: 0, acked: 0, done: Promise.resolve(), order: [] };
  const promises: Promise<void>[] = [];
  load.done = (async () => {
    for (let i = 0; i < count; i++) {
      if (pauseWhileDown && i % 20 === 0) while (client.room.status !== "open") await sleep(10);
      load.sent++;
      promises.push(
        client.room.send(`${client.observed.userId} #${i}`).then((ack) => {
          load.order[i] = ack.clientId; // the i-th message sent: its clientId, whatever order acks came in
          client.observed.acks.set(ack.clientId, ack.seq);
          load.acked++;
        }),
      );
      if (i % 20 === 19) await sleep(pauseMs);
    }
    await Promise.all(promises);
    client.observed.sent = load.order;
  })();
  return load;
}

test("SIGKILL of the server twice mid-stream: restart on the same state, every acked message kept once, gapless", async () => {
  const clients = await Promise.all(Array.from({ length: 5 }, (_, i) => openClient(server, "chaos-kill", `k${i}`)));
  opened.push(...clients);
  // 200 msgs/s per client while connected: 1.5 s of sending in all, so each kill lands mid-load.
  const loads = clients.map((c) => startLoad(c, 300, 100, true));
  const acked = () => loads.reduce((n, l) => n + l.acked, 0);
  const inFlight = () => loads.reduce((n, l) => n + l.sent - l.acked, 0);
  const bootIds = new Set<string>();
  for (const killAfter of [300, 800]) {
    // Killed only while messages are unacked: a burst goes out as one batch frame and can be acked whole,
    // so "after N acks" alone may land in a quiet moment between bursts.
    await waitFor(() => acked() >= killAfter && inFlight() > 0, 60_000, `${killAfter} acks and unacked messages in flight before the kill`);
    bootIds.add(clients[0]!.bootIds.at(-1)!);
    await server.kill(); // the whole group: partykit's node process and its workerd child
    await sleep(300);
    await server.restart();
    await waitFor(() => clients.every((c) => c.room.status === "open" && !bootIds.has(c.bootIds.at(-1)!)), 30_000, "every client back on the new server");
  }
  await Promise.all(loads.map((l) => l.done));
  await waitFor(() => clients.every((c) => c.observed.events.length === 1500), 30_000, "every client to see 1500 events");
  assert.equal(new Set(clients.flatMap((c) => c.bootIds)).size, 3, "three server processes (boot ids): before, between and after the kills");
  for (const c of clients) {
    const resumes = c.resumes.filter((r) => r !== null);
    assert.ok(resumes.length >= 2, `${c.observed.userId} resumed after each kill`);
    for (const r of resumes) assert.deepEqual(r, { recovered: true }, `${c.observed.userId} resumed without loss`);
  }
  assertRoomConsistent(clients.map((c) => c.observed), 1500);
  // Acks are the client's truth: each of its 300 messages was acked exactly once at a distinct seq.
  for (const c of clients) assert.equal(new Set(c.observed.acks.values()).size, 300);
  for (const c of clients) c.room.close();
});

test("client sockets dropped at random while sending: resumed, nothing lost or duplicated", async () => {
  const clients = await Promise.all(Array.from({ length: 6 }, (_, i) => openClient(server, "chaos-drops", `d${i}`)));
  opened.push(...clients);
  const loads = clients.map((c) => startLoad(c, 500, 40));
  let drops = 0;
  /** At each drop: how many of the dropped client's commands were sent and not yet acked. */
  const inFlightAtDrop: number[] = [];
  const dropping = (async () => {
    // A fixed number of drops, not "until the load ends": the count must not depend on machine speed.
    while (drops < 15) {
      // Aimed at a client with commands in flight when there is one: a drop is only a test of resend and
      // dedupe if commands were unacked on the socket it cut.
      const busy = clients.map((_, i) => i).filter((i) => loads[i]!.sent > loads[i]!.acked);
      const pool = busy.length > 0 ? busy : clients.map((_, i) => i);
      const i = pool[Math.floor(Math.random() * pool.length)]!;
      inFlightAtDrop.push(loads[i]!.sent - loads[i]!.acked);
      clients[i]!.room.reconnect();
      drops++;
      await sleep(40 + Math.random() * 80);
    }
  })();
  await Promise.all(loads.map((l) => l.done));
  await dropping;
  assert.equal(drops, 15);
  assert.ok(loads.every((l) => l.acked === 500));
  // The drops landed while commands were in flight, not only in quiet moments: the count at each drop is
  // the client's own (sent minus acked when its socket was cut).
  const underLoad = inFlightAtDrop.filter((n) => n > 0).length;
  console.log(`drops with commands in flight: ${underLoad} of ${drops} (in flight at each: ${inFlightAtDrop.join(", ")})`);
  assert.ok(underLoad >= 5, `only ${underLoad} of ${drops} drops cut a socket with unacked commands: ${inFlightAtDrop.join(", ")}`);
  await waitFor(() => clients.every((c) => c.observed.events.length === 3000), 30_000, "every client to see 3000 events");
  const resumed = clients.flatMap((c) => c.resumes).filter((r) => r !== null);
  assert.ok(resumed.length > 0 && resumed.every((r) => JSON.stringify(r) === '{"recovered":true}'), "every reconnect resumed");
  assertRoomConsistent(clients.map((c) => c.observed), 3000);
  for (const c of clients) c.room.close();
});
