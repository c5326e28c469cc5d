/**
 * The Prometheus endpoint against a real `partykit dev`: the text parses strictly, and its counters move
 * by exactly the traffic sent (per room and in total), then stay there. A slow directory delays no ack:
 * with every report stalled far longer than the whole test, all messages are acked and the failures counted.
 */
import assert from "node:assert/strict";
import { after, test } from "node:test";
import { KaiwaAdmin } from "../../client/admin.ts";
import { DevServer, waitFor } from "../helpers/dev-server.ts";
import { openClient, sendAll, type TestClient } from "../helpers/clients.ts";
import { assertRoomConsistent } from "../helpers/log-check.ts";
import { rawSocket } from "../helpers/raw-socket.ts";
import { parsePrometheus, seriesKey, type Series } from "../helpers/prometheus.ts";

const INTERVAL_MS = 150;
const servers: DevServer[] = [];
const clients: TestClient[] = [];

after(async () => {
  for (const client of clients) client.room.close();
  for (const server of servers) await server.stop();
});

async function start(vars: Record<string, string | number>): Promise<{ server: DevServer; admin: KaiwaAdmin }> {
  const server = new DevServer({ vars });
  servers.push(server);
  await server.start();
  return { server, admin: new KaiwaAdmin({ baseUrl: server.url, token: () => server.token("ops", { operator: true }) }) };
}

async function client(server: DevServer, room: string, user: string): Promise<TestClient> {
  const opened = await openClient(server, room, user);
  clients.push(opened);
  return opened;
}

const texts = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}-${i}`);
const room = (name: string, roomId: string, extra: Record<string, string> = {}) => seriesKey(name, { room: roomId, ...extra });

test("metrics parse strictly and move by exactly the traffic sent", async () => {
  const { server, admin } = await start({ KAIWA_DIRECTORY_INTERVAL_MS: INTERVAL_MS });
  const empty = parsePrometheus(await admin.metrics());
  assert.equal(empty.get("kaiwa_rooms"), 0);
  assert.equal(empty.get("kaiwa_messages_total"), 0);

  const alice = await client(server, "m1", "alice");
  const bob = await client(server, "m1", "bob");
  const dave = await client(server, "m2", "dave");
  const raw = await rawSocket(server, "m1", { token: await server.token("carol"), session: "raw" });
  await raw.next((f) => f.type === "welcome");
  await Promise.all([sendAll(alice, texts("a", 20)), sendAll(bob, texts("b", 10)), sendAll(dave, texts("d", 5))]);
  for (let i = 0; i < 3; i++) raw.send("not json");
  raw.send({ type: "send", clientId: "e1", n: 1, text: "   " });
  await raw.next((f) => f.type === "error" && f.code === "text_empty");

  let series: Series = new Map();
  await waitFor(
    async () => {
      series = parsePrometheus(await admin.metrics());
      return series.get(room("kaiwa_room_messages_total", "m1")) === 30 && series.get(room("kaiwa_room_errors_total", "m1", { code: "text_empty" })) === 1 && series.get(room("kaiwa_room_messages_total", "m2")) === 5;
    },
    10_000,
    "reports with the traffic",
  );
  // Awaited, not slept: the reports that bring both rooms' rates back to 0. A rate of 0 next to the full
  // totals is a report taken after the traffic, so the directory has had at least two reports carrying
  // these totals: nothing may count twice.
  const settled = (s: Series) =>
    s.get(room("kaiwa_room_messages_per_second", "m1")) === 0 && s.get(room("kaiwa_room_messages_per_second", "m2")) === 0 &&
    s.get(room("kaiwa_room_messages_total", "m1")) === 30 && s.get(room("kaiwa_room_messages_total", "m2")) === 5;
  await waitFor(async () => settled((series = parsePrometheus(await admin.metrics()))), 10_000, "both rooms' rates back to 0 with the full totals");
  const expect: Array<[string, number]> = [
    ["kaiwa_rooms", 2],
    [room("kaiwa_room_messages_total", "m1"), 30],
    [room("kaiwa_room_messages_total", "m2"), 5],
    ["kaiwa_messages_total", 35],
    [room("kaiwa_room_errors_total", "m1", { code: "bad_frame" }), 3],
    [room("kaiwa_room_errors_total", "m1", { code: "text_empty" }), 1],
    [seriesKey("kaiwa_errors_total", { code: "bad_frame" }), 3],
    [room("kaiwa_room_connections", "m1"), 3],
    ["kaiwa_connections", 4],
    [room("kaiwa_room_ack_latency_seconds_count", "m1"), 30],
    [room("kaiwa_room_ack_latency_seconds_bucket", "m1", { le: "+Inf" }), 30],
    ["kaiwa_ack_latency_seconds_count", 35],
    [room("kaiwa_room_last_seq", "m1"), 30],
    [room("kaiwa_room_messages_per_second", "m1"), 0],
    [room("kaiwa_room_messages_per_second", "m2"), 0],
    ["kaiwa_archive_lag_events", 0],
    ["kaiwa_report_failures_total", 0],
  ];
  for (const [key, value] of expect) assert.equal(series.get(key), value, key);
  assert.equal([...series.keys()].filter((k) => k.startsWith("kaiwa_room_errors_total")).length, 2, "no error codes beyond the traffic");
  assert.ok(series.get("kaiwa_ack_latency_seconds_sum")! > 0);

  // "Then stay there": one more report, caused by a change that is not traffic (a socket joins m1), and
  // every counter above is where it was.
  const extra = await rawSocket(server, "m1", { token: await server.token("erin"), session: "extra" });
  await extra.next((f) => f.type === "welcome");
  await waitFor(async () => (series = parsePrometheus(await admin.metrics())).get(room("kaiwa_room_connections", "m1")) === 4, 10_000, "the report with the 4th socket in m1");
  for (const [key, value] of expect) {
    if (key === room("kaiwa_room_connections", "m1")) assert.equal(series.get(key), 4, key);
    else if (key === "kaiwa_connections") assert.equal(series.get(key), 5, key);
    else assert.equal(series.get(key), value, `${key} after a later report`);
  }
  extra.ws.close();

  await waitFor(() => alice.observed.events.length === 30 && bob.observed.events.length === 30, 10_000, "m1 clients caught up");
  assertRoomConsistent([alice.observed, bob.observed], 30);
  alice.room.close();
  bob.room.close();
  raw.ws.close();
  await waitFor(async () => parsePrometheus(await admin.metrics()).get(room("kaiwa_room_connections", "m1")) === 0, 10_000, "m1 connections back to 0");
});

test("a directory that stalls every report delays no ack; the room counts the failed reports", async () => {
  const { server, admin } = await start({ KAIWA_DIRECTORY_INTERVAL_MS: 100, KAIWA_DIRECTORY_TIMEOUT_MS: 200, KAIWA_TEST_DIRECTORY_DELAY_MS: 120_000 });
  const alice = await client(server, "slow", "alice");
  const bob = await client(server, "slow", "bob");
  const started = Date.now();
  for (let round = 0; round < 5; round++) await Promise.all([sendAll(alice, texts(`a${round}`, 20)), sendAll(bob, texts(`b${round}`, 20))]);
  const elapsed = Date.now() - started;
  // Every report stalls for 120 s, so acks that waited on one could not all have arrived within the test.
  assert.ok(elapsed < 60_000, `200 acks took ${elapsed} ms`);
  await waitFor(async () => (await admin.detail("slow")).reportFailures >= 2, 10_000, "failed reports counted");
  await waitFor(() => alice.observed.events.length === 200 && bob.observed.events.length === 200, 10_000, "clients caught up");
  assertRoomConsistent([alice.observed, bob.observed], 200);
  console.log(`stalled directory: 200 messages acked in ${elapsed} ms`);
});
