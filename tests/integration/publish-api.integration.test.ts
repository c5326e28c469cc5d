/**
 * The publish API (issue 20 part 2) against a real `partykit dev`: an app's backend posts a bot's message
 * into many rooms in one call, where real clients receive it at the seq the answer names; failing targets
 * (a banned bot, an invalid id, an uncreated group, a group without the bot, someone else's DM) fail alone
 * with typed errors while the rest succeed; a retried call answers the original seqs and adds nothing;
 * user tokens, forged and missing keys, malformed bodies and over-limit fan-outs are refused whole with
 * nothing changed; and the inbox broadcast reaches online devices and queues (and pushes) for offline users.
 */
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import { after, before, describe, it } from "node:test";
import { DevServer, TEST_SECRET, waitFor } from "../helpers/dev-server.ts";
import { closedWithin, rawPartySocket, rawSocket, type RawSocket } from "../helpers/raw-socket.ts";
import { assertRoomConsistent, type Observed } from "../helpers/log-check.ts";
import { signServiceToken } from "../../party/adapters/service-auth.ts";
import { PUBLISH_LIMITS } from "../../party/protocol/publish-schema.ts";
import type { RoomEvent } from "../../party/protocol/index.ts";

const KEY = "pk_test_" + "a1b2c3d4".repeat(5);
const OLD_KEY = "pk_rotated_" + "z9y8x7w6".repeat(5);
const BOT = { id: "bot_deploy", name: "Deploy bot" };
/** With the six other targets below, a call at the fan-out bound exactly (PROTOCOL R62). */
const ROOMS = Array.from({ length: 94 }, (_, i) => `pub-${i}`);

let server: DevServer;
/** The first calls' bodies and answers, retried after a restart by the last test. */
const answered: Array<{ route: "rooms" | "inboxes"; body: unknown; results: any[] }> = [];
let pushReceiver: Server;
const pushes: Array<{ user: string; room: string; seq: number; from: { id: string } }> = [];

before(async () => {
  pushReceiver = createServer((request, response) => {
    let body = "";
    request.on("data", (chunk) => (body += chunk));
    request.on("end", () => {
      pushes.push(JSON.parse(body));
      response.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => pushReceiver.listen(0, "127.0.0.1", resolve));
  const address = pushReceiver.address();
  const port = typeof address === "object" && address ? address.port : 0;
  server = new DevServer({ vars: { KAIWA_PUBLISH_KEYS: `${KEY},${OLD_KEY}`, KAIWA_PUSH_URL: `http://127.0.0.1:${port}/push`, KAIWA_PUSH_SECRET: "push-secret" } });
  await server.start();
});
after(async () => {
  await server.stop();
  pushReceiver.close();
});

function publish(route: "rooms" | "inboxes", body: unknown, key: string | null = KEY): Promise<{ status: number; body: any }> {
  return server.fetchJson(`/publish/${route}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...(key !== null ? { authorization: `Bearer ${key}` } : {}) },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
}

async function lastSeqOf(room: string, user = "auditor"): Promise<number> {
  const page = await server.fetchJson(`/parties/room/${room}/history?limit=200`, { token: await server.token(user) });
  assert.equal(page.status, 200, JSON.stringify(page.body));
  return page.body.events.at(-1)?.seq ?? 0;
}

/** A client socket that watched `room` from seq 1, in the shape log-check reads. */
type Watcher = { socket: RawSocket; observed: Observed };
async function watch(room: string, user: string): Promise<Watcher> {
  const socket = await rawSocket(server, room, { token: await server.token(user), session: `${user}-s` });
  await socket.next((f) => f.type === "welcome");
  const observed: Observed = { events: [], acks: new Map(), sent: [], userId: user };
  socket.ws.on("message", (data) => {
    const frame = JSON.parse(data.toString());
    if (frame.type === "events") observed.events.push(...(frame.events as RoomEvent[]));
    if (frame.type === "ack") for (const ack of frame.acks) observed.acks.set(ack.clientId, ack.seq);
  });
  return { socket, observed };
}

describe("publish API", () => {
  it("refuses a missing or forged key, user, operator and actor tokens, each typed, changing nothing (PROTOCOL R60)", async () => {
    const body = { author: BOT, text: "hello", targets: [{ room: "guarded", clientId: "g1" }] };
    const missing = await publish("rooms", body, null);
    assert.equal(missing.status, 401);
    assert.equal(missing.body.error.code, "unauthorized");
    const forged = await publish("rooms", body, KEY.slice(0, -1) + "X");
    assert.equal(forged.status, 401);
    assert.deepEqual([forged.body.error.code, forged.body.error.retryable], ["unauthorized", false]);
    for (const token of [await server.token("alice"), await server.token("root", { operator: true }), await signServiceToken({ KAIWA_JWT_SECRET: TEST_SECRET })]) {
      const refused = await publish("rooms", body, token);
      assert.equal(refused.status, 403, JSON.stringify(refused.body));
      assert.equal(refused.body.error.code, "forbidden");
      assert.match(refused.body.error.message, /user token cannot publish/);
    }
    // The room's own publish route: a user token there is refused.
    // It is for the worker's handler only: a user claiming to be an actor, with or without a made-up
    // service token, is refused too (the worker strips the claim, PROTOCOL IB7).
    const posing: Array<Record<string, string>> = [{}, { "x-kaiwa-caller": "actor" }, { "x-kaiwa-caller": "actor", "x-kaiwa-service-token": "forged" }];
    for (const headers of posing) {
      const direct = await server.fetchJson("/parties/room/guarded/publish", { method: "POST", headers, token: await server.token("alice"), body: JSON.stringify({ author: BOT, text: "hello", clientId: "g1" }) });
      assert.equal(direct.status, 403, JSON.stringify(direct.body));
      assert.equal(direct.body.error.code, "forbidden");
    }
    assert.equal(await lastSeqOf("guarded"), 0, "nothing was posted");
    // The rotated (second) key works as well.
    const rotated = await publish("rooms", body, OLD_KEY);
    assert.equal(rotated.status, 200, JSON.stringify(rotated.body));
    assert.equal(rotated.body.results[0].seq, 1);
  });

  it("keeps bot ids for bots: a user token with a bot_ id is refused (PROTOCOL R61)", async () => {
    const socket = await rawSocket(server, "guarded", { token: await server.token("bot_deploy"), session: "s" });
    const frame = await socket.next((f) => f.type === "error");
    assert.equal(frame.code, "unauthorized");
    assert.equal(await closedWithin(socket, 5_000), 4001);
  });

  it("refuses malformed bodies and an over-limit fan-out as a whole with a typed 400, changing nothing (PROTOCOL R62, I8)", async () => {
    const target = { room: "untouched", clientId: "u1" };
    const bad: Array<[string, unknown]> = [
      ["not JSON", "{"],
      ["no body", ""],
      ["no author", { text: "x", targets: [target] }],
      ["a user id as author", { author: { id: "alice", name: "Alice" }, text: "x", targets: [target] }],
      ["empty text", { author: BOT, text: "  ", targets: [target] }],
      ["text over the limit", { author: BOT, text: "x".repeat(4001), targets: [target] }],
      ["no targets", { author: BOT, text: "x", targets: [] }],
      ["a bad clientId", { author: BOT, text: "x", targets: [{ room: "untouched", clientId: "no spaces" }] }],
      ["an unknown field", { author: BOT, text: "x", targets: [target], urgent: true }],
      ["over the fan-out limit", { author: BOT, text: "x", targets: Array.from({ length: PUBLISH_LIMITS.maxTargets + 1 }, (_, i) => ({ room: i === 0 ? "untouched" : `over-${i}`, clientId: `o${i}` })) }],
    ];
    for (const [what, body] of bad) {
      const answer = await publish("rooms", body);
      assert.equal(answer.status, 400, `${what}: ${JSON.stringify(answer.body)}`);
      assert.equal(answer.body.error.code, "bad_frame", what);
    }
    const inboxes = await publish("inboxes", { author: BOT, text: "x", targets: Array.from({ length: PUBLISH_LIMITS.maxTargets + 1 }, (_, i) => ({ user: `u${i}`, clientId: `c${i}` })) });
    assert.equal(inboxes.status, 400);
    assert.match(inboxes.body.error.message, /at most 100 targets/);
    const wrongMethod = await server.fetchJson("/publish/rooms", { headers: { authorization: `Bearer ${KEY}` } });
    assert.equal(wrongMethod.status, 405);
    assert.equal(await lastSeqOf("untouched"), 0, "nothing was posted");
    assert.equal(await lastSeqOf("over-1"), 0, "nothing was posted");
    // The next valid call gets lastSeq + 1: the refusals left no trace.
    const valid = await publish("rooms", { author: BOT, text: "x", targets: [target] });
    assert.deepEqual([valid.status, valid.body.results[0].seq], [200, 1]);
  });

  it("posts into many rooms in one call, real clients receive it by (room, seq), failing targets fail alone, and a retry adds nothing (PROTOCOL R61, R62, R64, I3)", async () => {
    const operator = await server.token("root", { operator: true });
    // Rooms with some traffic of their own first, so the bot's seq is not trivially 1.
    const watchers = new Map<string, Watcher>(await Promise.all(ROOMS.map(async (room) => [room, await watch(room, "alice")] as const)));
    await Promise.all(
      ROOMS.map(async (room, index) => {
        const { socket, observed } = watchers.get(room)!;
        for (let n = 1; n <= index % 3; n++) {
          socket.send({ type: "send", clientId: `own-${n}`, n, text: `alice ${n}` });
          observed.sent.push(`own-${n}`);
        }
        await waitFor(() => observed.acks.size === index % 3, 20_000, `acks in ${room}`);
      }),
    );
    // A room where an operator banned the bot; a group the bot belongs to; one it does not; one never made.
    const moderated = await server.fetchJson("/admin/rooms/pub-banned/moderate", { method: "POST", token: operator, body: JSON.stringify({ user: BOT.id, action: "ban", durationMs: 3_600_000 }) });
    assert.equal(moderated.status, 200, JSON.stringify(moderated.body));
    for (const [group, members] of [["g:withbot", [BOT.id, "bob"]], ["g:nobot", ["bob"]]] as const) {
      const owner = await rawSocket(server, group, { token: await server.token("alice"), session: "grp" });
      await owner.next((f) => f.type === "welcome");
      owner.send({ type: "group.create", clientId: "create", n: 1, title: group, members });
      await owner.next((f) => f.type === "ack");
      owner.ws.close();
    }
    const groupWatcher = await watch("g:withbot", "bob");

    const targets = [
      ...ROOMS.map((room) => ({ room, clientId: `maint-${room}` })),
      { room: "pub-banned", clientId: "maint-banned" },
      { room: "not a room!", clientId: "maint-invalid" },
      { room: "g:never", clientId: "maint-never" },
      { room: "g:nobot", clientId: "maint-nobot" },
      { room: "dm:alice:bob", clientId: "maint-dm" },
      { room: "g:withbot", clientId: "maint-group" },
    ];
    const body = { author: BOT, text: "Maintenance at 03:00 UTC", targets };
    assert.equal(targets.length, PUBLISH_LIMITS.maxTargets);
    const mark = server.logMark();
    const started = performance.now();
    const first = await publish("rooms", body);
    console.log(`publish: ${targets.length} targets answered in ${Math.round(performance.now() - started)} ms`);
    assert.equal(first.status, 207, JSON.stringify(first.body));
    assert.equal(first.body.results.length, targets.length);
    assert.deepEqual(first.body.results.map((r: any) => [r.room, r.clientId]), targets.map((t) => [t.room, t.clientId]), "one result per target, in order");
    const byRoom = new Map<string, any>(first.body.results.map((r: any) => [r.room, r]));
    const expectedFailures: Record<string, string> = { "pub-banned": "banned", "not a room!": "bad_frame", "g:never": "not_found", "g:nobot": "not_member", "dm:alice:bob": "forbidden" };
    for (const [room, code] of Object.entries(expectedFailures)) {
      const result = byRoom.get(room);
      assert.equal(result.ok, false, room);
      assert.equal(result.error.code, code, `${room}: ${JSON.stringify(result)}`);
      assert.equal(typeof result.error.message, "string");
      assert.equal(result.error.retryable, false);
    }
    assert.equal(first.body.failed, Object.keys(expectedFailures).length);
    assert.equal(first.body.succeeded, ROOMS.length + 1);

    // Every client got the bot's message at the seq the answer named, sequenced after the room's own.
    for (const [index, room] of ROOMS.entries()) {
      const result = byRoom.get(room);
      assert.equal(result.ok, true, JSON.stringify(result));
      assert.equal(result.seq, (index % 3) + 1, `${room}: next seq after the room's own messages`);
      const { observed } = watchers.get(room)!;
      await waitFor(() => observed.events.some((e) => e.seq === result.seq), 10_000, `${room}: the bot's event`);
      const event = observed.events.find((e) => e.seq === result.seq)!;
      assert.deepEqual([event.kind, event.clientId, event.author, (event as { text?: string }).text], ["message", `maint-${room}`, { ...BOT, bot: true }, "Maintenance at 03:00 UTC"]);
      assert.equal(event.ts, result.ts);
    }
    const grouped = byRoom.get("g:withbot");
    await waitFor(() => groupWatcher.observed.events.some((e) => e.seq === grouped.seq && e.clientId === "maint-group"), 10_000, "the group member sees the bot's message");

    // The retry: the original seqs, marked duplicate; the failures fail the same way; nothing new anywhere.
    answered.push({ route: "rooms", body, results: first.body.results });
    const retry = await publish("rooms", body);
    assert.equal(retry.status, 207);
    for (const [i, result] of retry.body.results.entries()) {
      const original = first.body.results[i];
      if (original.ok) assert.deepEqual(result, { ...original, duplicate: true });
      else assert.equal(result.error.code, original.error.code);
    }
    // Every failure was a typed answer, none an error in the runtime. (Checked before the sockets close:
    // workerd logs "Network connection lost" for WebSocket responses whose client went away.)
    assert.doesNotMatch(server.logSince(mark), /Uncaught|✘ \[ERROR\]|internal error|publish to .* failed/);
    assert.match(server.logSince(mark), /publish rooms by bot_deploy with key #1: 100 targets, 5 failed/, "one audit line per call");
    for (const [index, room] of ROOMS.entries()) {
      assert.equal(await lastSeqOf(room), (index % 3) + 1, `${room}: the retry added nothing`);
      const { observed, socket } = watchers.get(room)!;
      assertRoomConsistent([observed], (index % 3) + 1); // gapless, no clientId twice, acks at their seqs
      socket.ws.close();
    }
    assert.equal(await lastSeqOf("pub-banned"), 1, "only the ban event");
    assert.equal(await lastSeqOf("g:nobot", "bob"), 1, "only the group's creation");
    assert.equal(await lastSeqOf("dm:alice:bob", "alice"), 0);
    groupWatcher.socket.ws.close();
  });

  it("broadcasts into users' inboxes: online devices get it at once, offline users find it queued and get a push (PROTOCOL R63)", async () => {
    const carolDevices = await Promise.all(
      ["phone", "laptop"].map(async (session) => {
        const device = await rawPartySocket(server, "inbox", "carol", { token: await server.token("carol"), session });
        await device.next((f) => f.type === "welcome");
        return device;
      }),
    );
    const targets = [
      { user: "carol", clientId: "maint-carol" },
      { user: "dave", clientId: "maint-dave" },
      { user: "not valid", clientId: "maint-invalid" },
      { user: "bot_other", clientId: "maint-bot" },
    ];
    const body = { author: { id: "bot_ops", name: "Operations" }, text: "Maintenance at 03:00 UTC", targets };
    const first = await publish("inboxes", body);
    assert.equal(first.status, 207, JSON.stringify(first.body));
    const [carol, dave, invalid, bot] = first.body.results;
    assert.deepEqual([carol.ok, carol.room, carol.seq], [true, "notices:carol", 1]);
    assert.deepEqual([dave.ok, dave.room, dave.seq], [true, "notices:dave", 1]);
    assert.equal(invalid.error.code, "bad_frame");
    assert.equal(bot.error.code, "bad_frame");

    for (const device of carolDevices) {
      const events = await device.next((f) => f.type === "events" && f.room === "notices:carol");
      assert.deepEqual(events.events.map((e: RoomEvent) => [e.seq, e.clientId, e.author]), [[1, "maint-carol", { id: "bot_ops", name: "Operations", bot: true }]]);
      const row = await device.next((f) => f.type === "conversation" && f.conversation.room === "notices:carol");
      assert.deepEqual([row.conversation.kind, row.conversation.title, row.conversation.unread], ["notices", "Notices", 1]);
    }
    // dave is offline: a push goes to the app's hook, and his next connect finds the notice waiting.
    await waitFor(() => pushes.some((p) => p.user === "dave" && p.room === "notices:dave"), 15_000, "a push for dave");
    assert.ok(!pushes.some((p) => p.user === "carol"), "online users get no push");

    // Reading it on one device clears the unread count on every device (PROTOCOL IB4).
    const [phone, laptop] = carolDevices as [RawSocket, RawSocket];
    const mark = laptop.frames.length;
    phone.send({ type: "read", room: "notices:carol", seq: 1, requestId: "r1" });
    assert.equal((await phone.next((f) => f.type === "read" && f.requestId === "r1")).readSeq, 1);
    const cleared = await laptop.next((f) => f.type === "conversation" && f.conversation.room === "notices:carol", 10_000, mark);
    assert.equal(cleared.conversation.unread, 0);

    // The retry answers the original seqs; carol's devices see nothing new.
    answered.push({ route: "inboxes", body, results: first.body.results });
    const framesBefore = carolDevices.map((d) => d.frames.length);
    const retry = await publish("inboxes", body);
    assert.deepEqual(retry.body.results.slice(0, 2), [{ ...carol, duplicate: true }, { ...dave, duplicate: true }]);
    // A marker instead of a wait: a new notice is seq 2, and the room tells carol's inbox one call at a time,
    // in order, so anything the retry had caused would reach her devices before it.
    const marker = await publish("inboxes", { author: body.author, text: "marker", targets: [{ user: "carol", clientId: "maint-carol-2" }] });
    assert.deepEqual([marker.body.results[0].ok, marker.body.results[0].seq], [true, 2], JSON.stringify(marker.body));
    for (const [i, device] of carolDevices.entries()) {
      await device.next((f) => f.type === "events" && f.events.some((e: RoomEvent) => e.seq === 2), 10_000, framesBefore[i]);
      const since = device.frames.slice(framesBefore[i]).filter((f) => f.type === "events");
      assert.deepEqual(since.flatMap((f) => f.events.map((e: RoomEvent) => [f.room, e.seq, e.clientId])), [["notices:carol", 2, "maint-carol-2"]], "the retry delivered nothing");
    }

    const daveDevice = await rawPartySocket(server, "inbox", "dave", { token: await server.token("dave"), session: "d1" });
    const welcome = await daveDevice.next((f) => f.type === "welcome");
    assert.ok(welcome.changedWhileAway.includes("notices:dave"));
    const row = welcome.conversations.find((c: { room: string }) => c.room === "notices:dave");
    assert.deepEqual([row.kind, row.unread, row.lastSeq, row.preview.text, row.preview.author], ["notices", 1, 1, "Maintenance at 03:00 UTC", { id: "bot_ops", name: "Operations", bot: true }]);
    daveDevice.send({ type: "sync", requestId: "s1", room: "notices:dave", after: 0, limit: 50 });
    const synced = await daveDevice.next((f) => f.type === "sync");
    assert.deepEqual(synced.events.map((e: RoomEvent) => [e.seq, e.clientId]), [[1, "maint-dave"]]);
    assert.equal(pushes.filter((p) => p.user === "dave").length, 1, "one push, not one per call");

    // A notices room is its user's alone and written only by bots: carol cannot post, eve cannot open it.
    const own = await rawSocket(server, "notices:carol", { token: await server.token("carol"), session: "n1" });
    await own.next((f) => f.type === "welcome");
    own.send({ type: "send", clientId: "mine", n: 1, text: "can I?" });
    assert.equal((await own.next((f) => f.type === "error" && f.ref === "mine")).code, "forbidden");
    const eve = await rawSocket(server, "notices:carol", { token: await server.token("eve"), session: "e1" });
    const refused = await eve.next((f) => f.type === "error");
    assert.deepEqual([refused.code, refused.message], ["forbidden", "These are another user's notices."]);
    assert.equal(await closedWithin(eve, 5_000), 4003);
    assert.equal(await lastSeqOf("notices:carol", "carol"), 2, "the notice and the marker, not the retry");
    for (const socket of [...carolDevices, daveDevice, own]) socket.ws.close();
  });

  it("answers a retry after a restart with the original seqs: the pairs are rebuilt from the stored log (PROTOCOL R64, I3)", async () => {
    assert.equal(answered.length, 2, "the earlier tests ran");
    await server.kill();
    await server.start();
    for (const { route, body, results } of answered) {
      const retry = await publish(route, body);
      assert.equal(retry.status, 207);
      for (const [i, result] of retry.body.results.entries()) {
        const original = results[i];
        if (original.ok) assert.deepEqual(result, { ...original, duplicate: true }, JSON.stringify(result));
        else assert.equal(result.error.code, original.error.code);
      }
    }
    assert.equal(await lastSeqOf("notices:carol", "carol"), 2);
    assert.equal(await lastSeqOf("pub-5"), 3);
  });
});
