/**
 * Relay shards in a `partykit dev` process of their own (PROTOCOL R54, R55), as a deployment scales relays
 * past one process's socket and descriptor limits: the relay process subscribes to the room process over
 * the network with a service token; viewers (typed clients) connect to their shard there. Mid-stream the
 * relay process is killed with SIGKILL and restarted on the same state: every viewer resumes and ends with
 * the same gapless log, with no reset. The relay gathers the room's one-event frames into fewer frames.
 * Then the refusals: a forged or absent service credential is refused by the room, socket and HTTP alike,
 * and a relay process holding the wrong secret never gets a subscription, so its viewers get nothing.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import WebSocket from "ws";
import { SignJWT } from "jose";
import { DevServer, waitFor, sleep } from "../helpers/dev-server.ts";
import { openClient, type TestClient } from "../helpers/clients.ts";
import { rawPartySocket } from "../helpers/raw-socket.ts";
import { assertGapless } from "../helpers/log-check.ts";
import { CLOSE, shardOf, relayId } from "../../party/protocol/index.ts";

const ROOM = "live:proc";
const SHARDS = 2;
const VIEWERS = 120;
const room = new DevServer({ testMode: true });
let relays: DevServer;
let ops = "";

async function stats(): Promise<any> {
  return (await room.fetchJson(`/parties/room/${ROOM}/stats`, { token: ops })).body;
}

/** A socket with headers of our choosing (what a forger would send), and the frames and close it got. */
function forgedSocket(query: string, headers: Record<string, string>): Promise<{ frames: any[]; code: number }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://${room.host}/parties/room/${ROOM}?${query}`, { headers });
    const frames: any[] = [];
    ws.on("message", (data) => frames.push(JSON.parse(data.toString())));
    ws.on("close", (code) => resolve({ frames, code }));
    ws.on("error", reject);
    setTimeout(() => reject(new Error(`not closed; frames ${JSON.stringify(frames)}`)), 15_000).unref();
  });
}

/** A service token as a forger would make one: the right shape, the wrong key. */
function forgedServiceToken(): Promise<string> {
  return new SignJWT({}).setProtectedHeader({ alg: "HS256" }).setSubject("kaiwa-actor").setAudience("kaiwa-service").setExpirationTime("2m").sign(new TextEncoder().encode("not-the-service-secret"));
}

before(async () => {
  await room.start();
  relays = new DevServer({ testMode: true, vars: { KAIWA_RELAY_UPSTREAM: room.url } });
  await relays.start();
  ops = await room.token("ops", { operator: true });
  const { status, body } = await room.fetchJson(`/parties/room/${ROOM}/settings`, { method: "PATCH", token: ops, body: JSON.stringify({ shards: SHARDS, hosts: ["artist"] }), headers: { "content-type": "application/json" } });
  assert.equal(status, 200, JSON.stringify(body));
});
after(async () => {
  await relays?.stop();
  await room.stop();
});

test("PROTOCOL R55, R54: relays in their own process; SIGKILL mid-stream and a restart on the same state: every viewer resumes gapless, frames gathered", { timeout: 180_000 }, async () => {
  const viewers: TestClient[] = [];
  for (let i = 0; i < VIEWERS; i += 20) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(20, VIEWERS - i) }, (_, j) => {
        const user = `v${i + j}`;
        return openClient(relays, relayId(ROOM, shardOf(user, SHARDS)), user, { party: "relay" });
      }),
    );
    viewers.push(...batch);
  }
  // The room holds one socket per relay, and counts the relays' viewers as its own (PROTOCOL R52).
  await waitFor(async () => (await stats()).connections >= VIEWERS, 20_000, "relay counts reach the room");
  const before = await stats();
  assert.equal(before.live.relays, SHARDS);
  assert.equal(before.live.roomSockets, 0);
  // Frame shapes: one raw observer on the room (one frame per committed batch) and one on a relay.
  const onRoom = await rawPartySocket(room, "room", ROOM, { token: ops, session: "w" }); // an operator stays on the room (PROTOCOL R51)
  const watcher = "watcher";
  const onRelay = await rawPartySocket(relays, "relay", relayId(ROOM, shardOf(watcher, SHARDS)), { token: await relays.token(watcher), session: "w" });
  await onRelay.next((f) => f.type === "welcome");

  // The poster: an operator, so it stays on the room process (a viewer there would be sent to that process's own relays).
  const artist = await openClient(room, ROOM, "artist", { token: () => room.token("artist", { operator: true }) });
  let posted = 0;
  const post = async (n: number) => {
    for (let i = 0; i < n; i++) {
      const result = await artist.room.send(`artist ${posted++}`);
      artist.observed.acks.set(result.clientId, result.seq);
    }
  };
  await post(20);
  // SIGKILL the relay process while the artist keeps posting; restart it on the same state and port.
  const posting = post(40);
  await sleep(100);
  await relays.kill();
  await sleep(300);
  await relays.start();
  await posting;
  await post(10);

  const lastSeq = (await stats()).lastSeq as number;
  await waitFor(() => viewers.every((c) => c.room.position?.lastSeq === lastSeq), 60_000, "every viewer reached the room's lastSeq");
  for (const client of viewers) {
    assertGapless(client.observed.events, lastSeq, client.observed.userId);
    assert.deepEqual(client.resets, [], `${client.observed.userId} resumed without a reset`);
    assert.ok(client.bootIds.length >= 2 && new Set(client.bootIds).size >= 2, `${client.observed.userId} was welcomed by the restarted relay`);
  }
  const reference = viewers[0]!.observed.events.map((e) => e.clientId);
  for (const client of viewers) assert.deepEqual(client.observed.events.map((e) => e.clientId), reference);
  for (const [clientId, seq] of artist.observed.acks) assert.equal(reference[seq - 1], clientId);
  assert.equal(artist.observed.acks.size, 70);
  // The room sent one frame per post; the relay gathered some of them into frames of several events.
  const eventFrames = (s: { frames: any[] }) => s.frames.filter((f) => f.type === "events");
  assert.ok(eventFrames(onRoom).length >= 20 && eventFrames(onRoom).slice(0, 20).every((f) => f.events.length === 1), "the room: one event per frame");
  assert.ok(eventFrames(onRelay).some((f) => f.events.length > 1), `the relay gathered frames: ${eventFrames(onRelay).map((f) => f.events.length)}`);
  // After the restart, the room again counts every viewer (and the two on the room itself), over the relay
  // process's new subscriptions; the raw watcher, which does not reconnect, is gone.
  await waitFor(async () => (await stats()).live.relays === SHARDS && (await stats()).connections === VIEWERS + 2, 20_000, "relays subscribed again").catch(async (error) => {
    throw new Error(`${error.message}: ${JSON.stringify((await stats()).live)} connections ${(await stats()).connections}`);
  });
  for (const client of [...viewers, artist]) client.room.close();
  onRoom.ws.terminate();
  onRelay.ws.terminate();
});

test("PROTOCOL R55: a forged or absent service credential is refused (socket and HTTP), and a relay process with the wrong secret gets no subscription", { timeout: 120_000 }, async () => {
  const lastSeq = (await stats()).lastSeq as number;
  const identity = JSON.stringify({ sub: "relay", name: "relay 0" });
  // A socket asking to be relay 0 with a forged service token: typed refusal, closed.
  const forged = await forgedSocket("relay=0&session=x", { "x-kaiwa-service-token": await forgedServiceToken(), "x-kaiwa-identity": identity });
  assert.equal(forged.code, CLOSE.unauthorized);
  assert.equal(forged.frames[0]?.code, "unauthorized");
  // The actor header itself, with a user's valid token and no credential: not a relay.
  const posing = await forgedSocket(`relay=0&session=x&token=${await room.token("mallory")}`, { "x-kaiwa-caller": "actor", "x-kaiwa-identity": identity });
  assert.equal(posing.code, CLOSE.forbidden);
  assert.equal(posing.frames[0]?.code, "forbidden");
  // No credential at all.
  const bare = await forgedSocket("relay=0&session=x", { "x-kaiwa-caller": "actor" });
  assert.equal(bare.code, CLOSE.unauthorized);
  // HTTP: a forged token on the relays' posting route posts nothing.
  const body = JSON.stringify({ session: "x", commands: [{ type: "send", clientId: "forged-1", text: "forged" }] });
  const attempts: Array<Record<string, string>> = [{ "x-kaiwa-service-token": await forgedServiceToken() }, { "x-kaiwa-caller": "actor" }];
  for (const headers of attempts) {
    const response = await fetch(`${room.url}/parties/room/${ROOM}/relayed`, { method: "POST", body, headers: { ...headers, "content-type": "application/json", "x-kaiwa-identity": JSON.stringify({ sub: "artist", name: "ARTIST" }) } });
    assert.equal(response.status, 401, await response.text());
  }
  assert.equal((await stats()).lastSeq, lastSeq, "nothing was posted");

  // A relay process holding the wrong secret: the room refuses its subscription; its viewer is never welcomed.
  const impostor = new DevServer({ testMode: true, vars: { KAIWA_RELAY_UPSTREAM: room.url, KAIWA_SERVICE_SECRET: "not-the-service-secret" } });
  await impostor.start();
  try {
    const viewer = await rawPartySocket(impostor, "relay", relayId(ROOM, shardOf("eve", SHARDS)), { token: await impostor.token("eve"), session: "e" });
    await assert.rejects(viewer.next((f) => f.type === "welcome" || f.type === "events", 3_000));
    assert.equal((await stats()).live.relays, SHARDS, "only the real relays are subscribed");
    viewer.ws.terminate();
  } finally {
    await impostor.stop();
  }
});
