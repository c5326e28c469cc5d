/**
 * A sharded live room's presence and typing on a real `partykit dev` (PROTOCOL R15, R50-R52): its hosts stay
 * on the room and show as typing to viewers on every relay; every viewer sees the whole stream's count; a
 * viewer joining a relay sees both at once, and the room's pins in its welcome; a banned user sees nothing;
 * hosts named or unnamed mid-stream move between a relay and the room, and no message is lost or repeated
 * across the moves.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { DevServer, waitFor } from "../helpers/dev-server.ts";
import { openClient, type TestClient } from "../helpers/clients.ts";
import { rawPartySocket, rawSocket } from "../helpers/raw-socket.ts";
import { assertGapless } from "../helpers/log-check.ts";
import { relayId, shardOf, type WelcomeFrame } from "../../party/protocol/index.ts";

const server = new DevServer();
let ops = "";

before(async () => {
  await server.start();
  ops = await server.token("ops", { operator: true });
});
after(() => server.stop());

async function settings(room: string, patch: Record<string, unknown>): Promise<void> {
  const { status, body } = await server.fetchJson(`/parties/room/${room}/settings`, { method: "PATCH", token: ops, body: JSON.stringify(patch), headers: { "content-type": "application/json" } });
  assert.equal(status, 200, JSON.stringify(body));
}

async function stats(room: string): Promise<any> {
  return (await server.fetchJson(`/parties/room/${room}/stats`, { token: ops })).body;
}

/** Sends `n` messages one after another, recording each ack (clientId → seq). */
async function post(client: TestClient, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    const { clientId, seq } = await client.room.send(`${client.observed.userId} ${client.observed.acks.size}`);
    client.observed.acks.set(clientId, seq);
  }
}

/** Every client holds the room's whole log once, in order, and each acked post sits where its ack said. */
async function assertSameLog(room: string, clients: TestClient[]): Promise<void> {
  const lastSeq = (await stats(room)).lastSeq as number;
  await waitFor(() => clients.every((c) => c.room.position?.lastSeq === lastSeq), 30_000, "every client reached the room's lastSeq");
  for (const client of clients) assertGapless(client.observed.events, lastSeq, client.observed.userId);
  const reference = clients[0]!.observed.events;
  for (const client of clients) {
    assert.deepEqual(client.observed.events.map((e) => e.clientId), reference.map((e) => e.clientId), client.observed.userId);
    for (const [clientId, seq] of client.observed.acks) assert.equal(reference[seq - 1]!.clientId, clientId, `${client.observed.userId}'s ${clientId}`);
  }
}

test("PROTOCOL R51, R52, R15: the host stays on the room and shows as typing on every shard; relays' viewers see the stream's count, joiners at once", { timeout: 120_000 }, async () => {
  const room = "live:signals";
  await settings(room, { shards: 3, hosts: ["hana"] });
  const viewers = await Promise.all(Array.from({ length: 18 }, (_, i) => openClient(server, room, `v${i}`)));
  assert.equal(new Set(viewers.map((v) => shardOf(v.observed.userId, 3))).size, 3, "viewers on every shard");
  const typingSeen = new Set<string>();
  for (const viewer of viewers) viewer.room.on("typing", (users) => users.forEach((u) => typingSeen.add(u)));

  // The host's socket to the room is welcomed there, not redirected, and told it is a host.
  const hostToken = await server.token("hana");
  const raw = await rawSocket(server, room, { token: hostToken, session: "hana-raw" });
  const welcome: WelcomeFrame = await raw.next((f) => f.type === "welcome" || f.type === "redirect");
  assert.equal(welcome.type, "welcome", "a host is not redirected to a relay");
  assert.equal(welcome.host, true);
  raw.ws.close();
  const hana = await openClient(server, room, "hana");
  await waitFor(async () => {
    const s = await stats(room);
    return s.live.roomSockets === 1 && s.live.relayViewers === 18;
  }, 20_000, "hana on the room, the 18 viewers on relays");

  // The count every viewer shows is the stream's: 18 viewers on relays and the host on the room.
  await waitFor(() => viewers.every((v) => v.room.members.occupancy === 19), 20_000, "every viewer counts 19");
  assert.equal((await stats(room)).connections, 19);

  // The host types: viewers on every shard see it (a relay passes the room's frame on).
  hana.room.typing();
  const typedAt = Date.now();
  await waitFor(() => viewers.every((v) => v.room.members.typing.includes("hana")), 10_000, "every viewer shows hana typing");

  // A viewer joining a relay now gets the count and the typing list right after its welcome, before anything
  // changes: hana typed once (her entry lasts 5 s), so a frame naming her can only be the relay's greeting.
  const lateToken = await server.token("late");
  const lateShard = shardOf("late", 3);
  const late = await rawPartySocket(server, "relay", relayId(room, lateShard), { token: lateToken, session: "late-1" });
  const lateWelcome = await late.next((f) => f.type === "welcome");
  const at = late.frames.indexOf(lateWelcome);
  await late.next((f) => f.type === "typing", 5_000, at + 1);
  assert.ok(Date.now() - typedAt < 5_000, "within hana's 5 s: the frame is the greeting, not a change");
  const greeting = late.frames.slice(at + 1, at + 3);
  assert.deepEqual(greeting.map((f) => f.type), ["presence", "typing"], "the greeting follows the welcome: the count, then who types");
  assert.deepEqual(greeting.find((f) => f.type === "typing").users, ["hana"]);
  const count = greeting.find((f) => f.type === "presence");
  assert.equal(count.listed, false, "the relays' viewers cannot be named: the count alone");
  assert.ok(count.count >= 19, `the stream's count, not the relay's: ${count.count}`);

  // A viewer typing is refused by its relay and never shows.
  late.send({ type: "typing" });
  assert.equal((await late.next((f) => f.type === "error", 10_000, at + 1)).code, "forbidden");

  // A banned user gets neither the count nor who is typing: refused before any welcome.
  const ban = await server.fetchJson(`/admin/rooms/${room}/moderate`, { method: "POST", token: ops, body: JSON.stringify({ user: "troll", action: "ban", durationMs: 600_000 }), headers: { "content-type": "application/json" } });
  assert.equal(ban.status, 200, JSON.stringify(ban.body));
  await waitFor(() => viewers.every((v) => v.observed.events.some((e) => e.kind === "moderation" && e.user === "troll")), 10_000, "the ban reached every shard");
  const troll = await rawPartySocket(server, "relay", relayId(room, shardOf("troll", 3)), { token: await server.token("troll"), session: "troll-1" });
  assert.equal((await troll.next((f) => f.type === "error")).code, "banned");
  assert.deepEqual(troll.frames.filter((f) => ["welcome", "presence", "typing"].includes(f.type)), [], "nothing of the room");
  troll.ws.terminate();

  // Messages from the host (on the room) and a viewer (through its relay): every viewer holds them all, once, in order.
  await Promise.all([post(hana, 6), post(viewers[0]!, 6)]);
  await assertSameLog(room, [...viewers, hana]);
  assert.ok(hana.observed.events.filter((e) => e.kind === "message" && e.author.id === "hana").every((e) => e.kind === "message" && e.host === true));
  assert.deepEqual([...typingSeen], ["hana"], "nobody but the host ever showed as typing");
  late.ws.close();

  // Pins (PROTOCOL R24) on every shard: an operator pins the host's message; viewers see the pin event, and a
  // viewer joining a relay later has it in its welcome, as on the room. A deletion unpins, for joiners too.
  const operator = await openClient(server, room, "ops", { token: () => server.token("ops", { operator: true }) });
  const pinned = [...hana.observed.acks.values()][0]!;
  await operator.room.pin(pinned);
  await waitFor(() => viewers.every((v) => v.room.pins.some((p) => p.seq === pinned)), 10_000, "every viewer shows the pin");
  const joiner = await openClient(server, room, "joiner");
  assert.deepEqual(joiner.room.pins.map((p) => p.seq), [pinned], "a relay's welcome lists the room's pins");
  await operator.room.delete(pinned);
  await waitFor(() => viewers.every((v) => v.room.pins.length === 0), 10_000, "the deletion unpinned it everywhere");
  const second = await openClient(server, room, "joiner2");
  assert.deepEqual(second.room.pins, [], "a joiner after the deletion: nothing pinned");
  for (const client of [...viewers, hana, operator, joiner, second]) client.room.close();
});

test("PROTOCOL R51: a viewer named host moves from its relay to the room and shows typing; unnamed, it moves back; nothing lost or repeated", { timeout: 120_000 }, async () => {
  const room = "live:host-moves";
  await settings(room, { shards: 2 });
  const vera = await openClient(server, room, "vera");
  const wes = await openClient(server, room, "wes");
  const welcomes: WelcomeFrame[] = [];
  vera.room.on("welcome", (w) => welcomes.push(w));
  await waitFor(async () => (await stats(room)).live.relayViewers === 2, 20_000, "both on relays");
  assert.equal((await stats(room)).live.roomSockets, 0);
  await Promise.all([post(vera, 3), post(wes, 3)]);

  // Named host: her relay moves her to the room, where her welcome says so and her typing shows.
  const moving = Promise.all([post(vera, 4), post(wes, 4)]);
  await settings(room, { hosts: ["vera"] });
  await moving;
  await waitFor(() => welcomes.at(-1)?.host === true && vera.room.status === "open", 20_000, "vera welcomed as a host");
  await waitFor(async () => (await stats(room)).live.roomSockets === 1, 20_000, "vera on the room");
  vera.room.typing();
  await waitFor(() => wes.room.members.typing.includes("vera"), 10_000, "wes sees vera typing");
  await post(vera, 2);

  // Unnamed: the room moves her back to her relay; she stops showing as typing, and a viewer's signal is refused.
  const back = Promise.all([post(vera, 4), post(wes, 4)]);
  await settings(room, { hosts: [] });
  await back;
  await waitFor(() => welcomes.at(-1)?.host === undefined && vera.room.status === "open", 20_000, "vera welcomed as a viewer");
  await waitFor(async () => {
    const s = await stats(room);
    return s.live.roomSockets === 0 && s.live.relayViewers === 2;
  }, 20_000, "vera back on her relay");
  await waitFor(() => wes.room.members.typing.length === 0, 10_000, "her typing went with her socket on the room");
  const raw = await rawPartySocket(server, "relay", relayId(room, shardOf("vera", 2)), { token: await server.token("vera"), session: "vera-raw" });
  const at = raw.frames.indexOf(await raw.next((f) => f.type === "welcome"));
  raw.send({ type: "typing" });
  assert.equal((await raw.next((f) => f.type === "error", 10_000, at)).code, "forbidden");
  raw.ws.close();

  await assertSameLog(room, [vera, wes]);
  const flagged = vera.observed.events.filter((e) => e.kind === "message" && e.host === true).length;
  assert.ok(flagged >= 2, `her messages as a host are flagged (${flagged})`);
  vera.room.close();
  wes.room.close();
});
