/**
 * Live rooms over relay shards on a real `partykit dev` (PROTOCOL R50-R53): a few hundred typed viewer
 * clients, spread over several 127.0.0.x source addresses, follow the room's redirect to their shard; a
 * host and viewers post through the relays; a relay drops its subscription (and its whole state) mid-stream;
 * the shard count changes mid-stream; a ban reaches every shard; and every viewer ends with the same
 * gapless log. Then the refusals: shard ids that do not exist, the wrong shard, a client posing as a relay.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import WebSocket from "ws";
import { DevServer, waitFor, sleep } from "../helpers/dev-server.ts";
import { openClient, type TestClient } from "../helpers/clients.ts";
import { rawPartySocket, rawSocket } from "../helpers/raw-socket.ts";
import { assertGapless } from "../helpers/log-check.ts";
import { CLOSE, LIMITS, shardOf, relayId } from "../../party/protocol/index.ts";

const ROOM = "live:show";
const VIEWERS = 240;
const server = new DevServer({ testMode: true });
let ops = "";

/** A `ws` class whose sockets leave from 127.0.0.<n> (all of 127/8 is loopback on Linux). */
function fromAddress(n: number): unknown {
  return class extends WebSocket {
    constructor(url: string, protocols?: string | string[]) {
      super(url, protocols, { localAddress: `127.0.0.${n}` });
    }
  };
}

async function settings(patch: Record<string, unknown>): Promise<any> {
  const { status, body } = await server.fetchJson(`/parties/room/${ROOM}/settings`, { method: "PATCH", token: ops, body: JSON.stringify(patch), headers: { "content-type": "application/json" } });
  assert.equal(status, 200, JSON.stringify(body));
  return body;
}

async function stats(): Promise<any> {
  return (await server.fetchJson(`/parties/room/${ROOM}/stats`, { token: ops })).body;
}

before(async () => {
  await server.start();
  ops = await server.token("ops", { operator: true });
});
after(() => server.stop());

test("PROTOCOL R50-R53: viewers across 4 then 6 shards, a relay restarted mid-stream, a ban on every shard: every viewer gapless", { timeout: 240_000 }, async () => {
  await settings({ shards: 4, hosts: ["artist"] });
  const viewers: TestClient[] = [];
  for (let i = 0; i < VIEWERS; i += 20) {
    const batch = await Promise.all(Array.from({ length: Math.min(20, VIEWERS - i) }, (_, j) => openClient(server, ROOM, `v${i + j}`, { WebSocket: fromAddress(2 + ((i + j) % 8)) })));
    viewers.push(...batch);
  }
  const artist = await openClient(server, ROOM, "artist");
  const fan = await openClient(server, ROOM, "fan");
  // Viewers sit on relays: the room's own sockets are its relays and its host (PROTOCOL R51), nobody else.
  await waitFor(async () => (await stats()).connections >= VIEWERS + 2, 20_000, "relay counts reach the room");
  const before = await stats();
  assert.equal(before.live.shards, 4);
  assert.equal(before.live.relays, 4, "one socket per relay");
  assert.equal(before.live.roomSockets, 1, "the host alone: no viewer on the room itself");
  assert.equal(before.live.relayViewers, VIEWERS + 1, "the viewers and the fan");

  let posted = 0;
  const post = async (client: TestClient, n: number) => {
    for (let i = 0; i < n; i++) {
      const result = await client.room.send(`${client.observed.userId} ${posted++}`);
      client.observed.acks.set(result.clientId, result.seq);
    }
  };
  await Promise.all([post(artist, 10), post(fan, 10)]);

  // A relay forgets its subscription mid-stream; another forgets everything (window, position).
  const drop = (shard: number, wipe: boolean) => server.fetchJson(`/parties/relay/${relayId(ROOM, shard)}/test-drop${wipe ? "?state=1" : ""}`, { method: "POST", token: ops });
  const posting = Promise.all([post(artist, 20), post(fan, 20)]);
  assert.equal((await drop(1, false)).status, 200);
  await sleep(50);
  assert.equal((await drop(2, true)).status, 200);
  await posting;

  // More shards, mid-stream: viewers move (redirect + 4031) and resume where they land.
  const moving = Promise.all([post(artist, 20), post(fan, 20)]);
  await settings({ shards: 6 });
  await moving;
  await waitFor(async () => (await stats()).live?.relays === 6, 20_000, "six relays subscribed");

  // A ban on every shard: one viewer per shard; each is closed at once, and nobody's post gets through after.
  const banned = new Map<number, TestClient>();
  for (const client of viewers) {
    const shard = shardOf(client.observed.userId, 6);
    if (!banned.has(shard)) banned.set(shard, client);
  }
  assert.equal(banned.size, 6);
  for (const client of banned.values()) {
    const { status } = await server.fetchJson(`/admin/rooms/${ROOM}/moderate`, { method: "POST", token: ops, body: JSON.stringify({ user: client.observed.userId, action: "ban", durationMs: 600_000 }), headers: { "content-type": "application/json" } });
    assert.equal(status, 200);
  }
  await waitFor(() => [...banned.values()].every((c) => c.room.status === "closed"), 10_000, "banned viewers closed on every shard");
  for (const client of banned.values()) {
    await assert.rejects(client.room.send("after the ban"), (error: { code?: string }) => error.code === "banned");
    // A fresh socket to the user's relay is refused with the typed frame.
    const shard = shardOf(client.observed.userId, 6);
    const raw = await rawPartySocket(server, "relay", relayId(ROOM, shard), { token: await server.token(client.observed.userId), session: "again" });
    const refusal = await raw.next((f) => f.type === "error");
    assert.equal(refusal.code, "banned");
    raw.ws.terminate();
  }
  await post(artist, 5);

  const stayed = viewers.filter((c) => ![...banned.values()].includes(c));
  const { body: final } = await server.fetchJson(`/parties/room/${ROOM}/stats`, { token: ops });
  const lastSeq = final.lastSeq as number;
  await waitFor(() => stayed.every((c) => c.room.position?.lastSeq === lastSeq), 30_000, "every viewer reached the room's lastSeq");
  for (const client of stayed) assertGapless(client.observed.events, lastSeq, client.observed.userId);
  // Every resume (after the relay restarts and the moves) was recovered: no client had to reset.
  for (const client of viewers) assert.deepEqual(client.resets, [], client.observed.userId);
  const wiped = viewers.filter((c) => shardOf(c.observed.userId, 4) === 2);
  assert.ok(wiped.length > 0 && wiped.every((c) => c.resumes.filter((r: any) => r?.recovered === true).length >= 1), "viewers of the wiped relay resumed");
  // Every viewer saw the same events, and each acked post exactly where its ack said.
  const reference = stayed[0]!.observed.events;
  for (const client of stayed) assert.deepEqual(client.observed.events.map((e) => e.clientId), reference.map((e) => e.clientId));
  for (const poster of [artist, fan]) {
    for (const [clientId, seq] of poster.observed.acks) assert.equal(reference[seq - 1]!.clientId, clientId);
    assert.equal(poster.observed.acks.size, poster === artist ? 55 : 50);
  }
  // The host's messages are flagged; a fan's are not.
  assert.ok(reference.filter((e) => e.kind === "message" && e.author.id === "artist").every((e) => e.kind === "message" && e.host === true));
  assert.ok(reference.filter((e) => e.kind === "message" && e.author.id === "fan").every((e) => e.kind === "message" && e.host === undefined));
  // Banned viewers saw a gapless prefix up to (at least) their own ban.
  for (const client of banned.values()) assertGapless(client.observed.events, client.observed.events.length, client.observed.userId);
  for (const client of [...viewers, artist, fan]) client.room.close();
});

test("PROTOCOL R51, R52: shard ids that do not exist, the wrong shard, and a client posing as a relay get typed refusals", async () => {
  const token = await server.token("someone");
  for (const id of ["live:show~512", "live:show~x", "general~1", "live:show~07"]) {
    const raw = await rawPartySocket(server, "relay", id, { token, session: "s1" });
    const frame = await raw.next((f) => f.type === "error");
    assert.equal(frame.code, "no_such_shard", id);
    raw.ws.terminate();
  }
  // The wrong shard: a redirect to the right one (and 4031), nothing else.
  const shards = (await stats()).live.shards as number;
  const right = shardOf("someone", shards);
  // A shard a room may have but this one does not (past its count): the same redirect, retryable.
  const past = await rawPartySocket(server, "relay", relayId(ROOM, 99), { token, session: "s0" });
  assert.equal((await past.next((f) => f.type === "redirect")).id, relayId(ROOM, right));
  past.ws.terminate();
  const wrong = (right + 1) % shards;
  const raw = await rawPartySocket(server, "relay", relayId(ROOM, wrong), { token, session: "s2" });
  const redirect = await raw.next((f) => f.type === "redirect");
  assert.deepEqual(redirect, { type: "redirect", party: "relay", id: relayId(ROOM, right), shard: right, shards });
  assert.equal(raw.frames.some((f) => f.type === "welcome"), false);
  raw.ws.terminate();
  // No token: refused at the worker.
  const anonymous = await rawPartySocket(server, "relay", relayId(ROOM, right), { session: "s3" });
  assert.equal((await anonymous.next((f) => f.type === "error")).code, "unauthorized");
  anonymous.ws.terminate();
  // A client asking the room to treat it as a relay, even with the actor header: refused.
  const posing = new WebSocket(`ws://${server.host}/parties/room/${ROOM}?token=${token}&session=s4&relay=0`, { headers: { "x-kaiwa-caller": "actor" } });
  const first = await new Promise<any>((resolve, reject) => {
    posing.once("message", (data) => resolve(JSON.parse(data.toString())));
    posing.once("error", reject);
  });
  assert.equal(first.code, "forbidden");
  posing.terminate();
  // The relayed route is for actors only.
  const { status } = await server.fetchJson(`/parties/room/${ROOM}/relayed`, { method: "POST", token, body: JSON.stringify({ session: "s5", commands: [{ type: "send", clientId: "c1", n: 1, text: "hi" }] }), headers: { "content-type": "application/json" } });
  assert.equal(status, 403);
  // A viewer's socket to the room is redirected to its shard, not welcomed.
  const direct = await rawSocket(server, ROOM, { token, session: "s6" });
  const moved = await direct.next((f) => f.type === "redirect");
  assert.equal(moved.id, relayId(ROOM, right));
  direct.ws.terminate();
});

/** A raw viewer socket that follows the room's redirect to its relay, welcomed. */
async function viaRelay(roomId: string, user: string, session = `raw-${user}`) {
  const token = await server.token(user);
  const first = await rawSocket(server, roomId, { token, session });
  const frame = await first.next((f) => f.type === "redirect" || f.type === "welcome");
  if (frame.type === "welcome") return first;
  first.ws.terminate();
  const socket = await rawPartySocket(server, frame.party, frame.id, { token, session });
  await socket.next((f) => f.type === "welcome");
  return socket;
}

test("PROTOCOL R50, R52: posting through a relay meets mutes, slow mode, the rate limit and clientId reuse with typed errors, and changes nothing; read marks and typing are refused", async () => {
  const room = "live:rules";
  await server.fetchJson(`/parties/room/${room}/settings`, { method: "PATCH", token: ops, body: JSON.stringify({ shards: 3, messagesPerSecond: 1, messageBurst: 3 }), headers: { "content-type": "application/json" } });
  const poster = await viaRelay(room, "poster");
  poster.send({ type: "send", clientId: "p1", n: 1, text: "first" });
  const ack = await poster.next((f) => f.type === "ack");
  assert.equal(ack.acks[0].seq, 1);
  // The same clientId for another command: refused, nothing stored.
  poster.send({ type: "send", clientId: "p1", n: 2, text: "other" });
  assert.equal((await poster.next((f) => f.type === "error" && f.ref === "p1")).code, "clientid_reused");
  // A resend of the same command: the original ack, marked duplicate.
  poster.send({ type: "send", clientId: "p1", n: 1, text: "first" });
  const again = await poster.next((f) => f.type === "ack" && f.acks[0].duplicate === true);
  assert.equal(again.acks[0].seq, 1);
  // Over the per-user rate: `rate_limited` with retryAfterMs, then 4029 (here: the typed frame is enough).
  poster.send({ type: "batch", commands: [2, 3, 4, 5].map((n) => ({ type: "send", clientId: `p${n}`, n, text: `m${n}` })) });
  const limited = await poster.next((f) => f.type === "error" && f.code === "rate_limited");
  assert.ok(limited.retryAfterMs > 0);
  poster.ws.terminate();
  // Slow mode, and a mute.
  await server.fetchJson(`/parties/room/${room}/settings`, { method: "PATCH", token: ops, body: JSON.stringify({ slowModeMs: 60_000, messagesPerSecond: 0 }), headers: { "content-type": "application/json" } });
  const slow = await viaRelay(room, "slowpoke");
  slow.send({ type: "send", clientId: "s1", n: 1, text: "one" });
  await slow.next((f) => f.type === "ack");
  slow.send({ type: "send", clientId: "s2", n: 2, text: "two" });
  const refused = await slow.next((f) => f.type === "error" && f.ref === "s2");
  assert.equal(refused.code, "slow_mode");
  assert.ok(refused.retryAfterMs > 0);
  await server.fetchJson(`/admin/rooms/${room}/moderate`, { method: "POST", token: ops, body: JSON.stringify({ user: "quiet", action: "mute", durationMs: 60_000 }), headers: { "content-type": "application/json" } });
  const quiet = await viaRelay(room, "quiet");
  quiet.send({ type: "send", clientId: "q1", n: 1, text: "hello?" });
  assert.equal((await quiet.next((f) => f.type === "error" && f.ref === "q1")).code, "muted");
  // A viewer has no read marks and does not show as typing: typed answers from the relay, as the room's (PROTOCOL R15).
  slow.send({ type: "read", seq: 1, requestId: "r1" });
  assert.equal((await slow.next((f) => f.type === "error" && f.ref === "r1")).code, "not_member");
  slow.send({ type: "typing" });
  assert.equal((await slow.next((f) => f.type === "error" && f.code === "forbidden")).message, "In a live room only hosts show as typing.");
  // Nothing refused took a seq: the log holds exactly the accepted posts, gapless.
  const { body } = await server.fetchJson(`/parties/room/${room}/history?limit=50`, { token: ops });
  const texts = body.events.filter((e: any) => e.kind === "message").map((e: any) => e.text);
  assert.ok(texts.includes("first") && texts.includes("one") && !texts.includes("two") && !texts.includes("hello?") && !texts.includes("other"));
  body.events.forEach((e: any, i: number) => assert.equal(e.seq, i + 1));
  // A frame flood on one relay: the relay's own frame budget (PROTOCOL R18.1) answers rate_limited.
  const flooder = await viaRelay(room, "flooder");
  for (let i = 0; i < 600; i++) flooder.send("{}");
  assert.equal((await flooder.next((f) => f.type === "error" && f.code === "rate_limited")).code, "rate_limited");
  for (const s of [slow, quiet, flooder]) s.ws.terminate();
});

test("PROTOCOL R53: automatic shards grow with the audience; shrinking moves viewers and loses nothing", { timeout: 120_000 }, async () => {
  const room = "live:auto";
  await server.fetchJson(`/parties/room/${room}/settings`, { method: "PATCH", token: ops, body: JSON.stringify({ autoShards: true, viewersPerShard: 10 }), headers: { "content-type": "application/json" } });
  const viewers: TestClient[] = [];
  for (let i = 0; i < 35; i++) viewers.push(await openClient(server, room, `a${i}`));
  const roomStats = async () => (await server.fetchJson(`/parties/room/${room}/stats`, { token: ops })).body;
  await waitFor(async () => (await roomStats()).live.shards === 4, 20_000, "auto mode reached 4 shards for 35 viewers");
  const poster = await openClient(server, room, "ops", { token: () => server.token("ops", { operator: true }) });
  const send = async (n: number) => {
    for (let i = 0; i < n; i++) await poster.room.send(`auto ${i}`);
  };
  const during = send(30);
  await server.fetchJson(`/parties/room/${room}/settings`, { method: "PATCH", token: ops, body: JSON.stringify({ autoShards: false, shards: 2 }), headers: { "content-type": "application/json" } });
  await during;
  await waitFor(async () => (await roomStats()).live.relays === 2, 20_000, "two relays left subscribed");
  const lastSeq = (await roomStats()).lastSeq;
  await waitFor(() => viewers.every((c) => c.room.position?.lastSeq === lastSeq), 20_000, "every viewer caught up");
  for (const c of viewers) assertGapless(c.observed.events, lastSeq, c.observed.userId);
  for (const c of [...viewers, poster]) c.room.close();
});

test("PROTOCOL R56: a relay tells a viewer that sends nothing its token expired, at expiry, and closes it 4002 after the grace", { timeout: 60_000 }, async () => {
  const room = "live:expiry";
  await server.fetchJson(`/parties/room/${room}/settings`, { method: "PATCH", token: ops, body: JSON.stringify({ shards: 2 }), headers: { "content-type": "application/json" } });
  const user = "brief";
  const minted = Date.now();
  const viewer = await rawPartySocket(server, "relay", relayId(room, shardOf(user, 2)), { token: await server.token(user, { expiresIn: "3s" }), session: "b" });
  await viewer.next((f) => f.type === "welcome");
  let other = 0;
  while (shardOf(`lasting${other}`, 2) !== shardOf(user, 2)) other++;
  const lasting = await rawPartySocket(server, "relay", relayId(room, shardOf(user, 2)), { token: await server.token(`lasting${other}`), session: "l" });
  await lasting.next((f) => f.type === "welcome");
  const told = await viewer.next((f) => f.type === "error" && f.code === "session_expired", 10_000);
  assert.ok(told, "told without sending a frame");
  const toldAfter = Date.now() - minted;
  assert.ok(toldAfter >= 2_000 && toldAfter < 6_000, `told ${toldAfter} ms after minting a 3 s token`);
  // The close frame arrives after the grace; a hibernatable socket's TCP close (and so `ws`'s close event)
  // follows only ~24 s later (partykit dev), so the test reads the close frame `ws` has received.
  const closeCode = () => (viewer.ws as unknown as { _closeFrameReceived: boolean; _closeCode: number })._closeFrameReceived ? (viewer.ws as unknown as { _closeCode: number })._closeCode : undefined;
  await waitFor(() => closeCode() !== undefined, LIMITS.expiredTokenGraceMs + 5_000, "the close frame after the grace");
  assert.equal(closeCode(), CLOSE.sessionExpired);
  assert.ok(Date.now() - minted >= 3_000 + LIMITS.expiredTokenGraceMs - 1_000, "closed only after the grace");
  // Another viewer on the same relay, with a valid token, is untouched.
  assert.equal(lasting.frames.some((f) => f.type === "error"), false);
  assert.equal(lasting.ws.readyState, WebSocket.OPEN);
  lasting.ws.terminate();
});
