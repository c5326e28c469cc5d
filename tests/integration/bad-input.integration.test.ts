/**
 * PROTOCOL I7 and I8 against a real `partykit dev`: refused tokens, malformed and forbidden frames and requests get
 * a typed error, the log stays as it was, and the next good message gets exactly lastSeq + 1.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { SignJWT } from "jose";
import { DevServer } from "../helpers/dev-server.ts";
import { rawPartySocket, rawSocket, type RawSocket } from "../helpers/raw-socket.ts";
import { ERRORS, LIMITS } from "../../party/protocol/index.ts";

const server = new DevServer();
let operatorToken = "";
before(async () => {
  await server.start();
  operatorToken = await server.token("ops", { operator: true });
});
after(() => server.stop());

async function join(room: string, user: string, operator = false): Promise<RawSocket> {
  const socket = await rawSocket(server, room, { token: await server.token(user, { name: user.toUpperCase(), operator }), session: `${user}-1` });
  await socket.next((f) => f.type === "welcome");
  return socket;
}

async function history(room: string) {
  const { status, body } = await server.fetchJson(`/parties/room/${room}/history?limit=200`, { token: operatorToken });
  assert.equal(status, 200);
  return body.events as Array<{ seq: number; kind: string; text?: string; author: { id: string } }>;
}

function expectTypedError(frame: any, code: keyof typeof ERRORS, label = "") {
  assert.equal(frame.type, "error", label);
  assert.equal(frame.code, code, label);
  assert.equal(frame.retryable, ERRORS[code].retryable);
  assert.equal(typeof frame.message, "string");
  assert.ok(!/\n\s+at /.test(frame.message), "no stack trace reaches the client");
}

test("bad frames get typed errors, change nothing, and the next message gets lastSeq + 1 (PROTOCOL R11)", async () => {
  const room = "bad-input";
  const alice = await join(room, "alice");
  const bob = await join(room, "bob");
  alice.send({ type: "send", clientId: "a1", n: 1, text: "first" });
  assert.equal((await alice.next((f) => f.type === "ack")).acks[0].seq, 1);
  const before = await history(room);

  const cases: Array<{ name: string; socket: RawSocket; frame: unknown; code: keyof typeof ERRORS }> = [
    { name: "malformed JSON", socket: alice, frame: "{not json", code: "bad_frame" },
    { name: "unknown type", socket: alice, frame: { type: "shout", clientId: "x1", n: 2, text: "hi" }, code: "bad_frame" },
    { name: "wrong field type", socket: alice, frame: { type: "send", clientId: "x2", n: "2", text: "hi" }, code: "bad_frame" },
    { name: "missing text", socket: alice, frame: { type: "send", clientId: "x3", n: 2 }, code: "bad_frame" },
    { name: "oversized frame", socket: alice, frame: { type: "send", clientId: "x4", n: 2, text: "x".repeat(LIMITS.maxFrameBytes) }, code: "frame_too_large" },
    { name: "empty text", socket: alice, frame: { type: "send", clientId: "x5", n: 2, text: "  " }, code: "text_empty" },
    { name: "too-long text", socket: alice, frame: { type: "send", clientId: "x6", n: 2, text: "y".repeat(LIMITS.maxTextChars + 1) }, code: "text_too_long" },
    { name: "stale command number", socket: alice, frame: { type: "send", clientId: "x7", n: 1, text: "again" }, code: "out_of_order" },
    { name: "reused clientId", socket: alice, frame: { type: "send", clientId: "a1", n: 5, text: "reuse" }, code: "clientid_reused" },
    { name: "editing someone else's message", socket: bob, frame: { type: "edit", clientId: "b1", n: 1, target: 1, text: "mine now" }, code: "forbidden" },
    { name: "deleting someone else's message", socket: bob, frame: { type: "delete", clientId: "b2", n: 2, target: 1 }, code: "forbidden" },
    { name: "editing a missing message", socket: alice, frame: { type: "edit", clientId: "x8", n: 2, target: 999, text: "ghost" }, code: "not_found" },
  ];
  for (const { name, socket, frame, code } of cases) {
    const from = socket.frames.length;
    socket.send(frame);
    const reply = await socket.next((f) => f.type === "error" || f.type === "ack", 10_000, from);
    expectTypedError(reply, code, name);
  }
  const binaryFrom = alice.frames.length;
  alice.ws.send(Buffer.from([1, 2, 3]));
  expectTypedError(await alice.next((f) => f.type === "error", 10_000, binaryFrom), "bad_frame");

  assert.deepEqual(await history(room), before, "the log is unchanged");
  // The identity in a frame is ignored (PROTOCOL I7, R10): the author comes from the token.
  alice.send({ type: "send", clientId: "a2", n: 2, text: "second", author: { id: "bob", name: "BOB" } });
  const ack = await alice.next((f) => f.type === "ack" && f.acks[0].clientId === "a2");
  assert.equal(ack.acks[0].seq, 2, "the next good message gets exactly lastSeq + 1");
  const after = await history(room);
  assert.equal(after.length, 2);
  assert.equal(after[1]!.author.id, "alice");
  alice.ws.close();
  bob.ws.close();
});

test("a batch frame is its commands in order: each is answered alone, bad ones change nothing (PROTOCOL R17)", async () => {
  const room = "batch-frames";
  const alice = await join(room, "alice");
  const bob = await join(room, "bob");
  const send = (clientId: string, n: unknown, text: string) => ({ type: "send", clientId, n, text });
  alice.send({
    type: "batch",
    commands: [
      send("c1", 1, "one"),
      send("bad1", "2", "wrong n type"),
      send("c2", 2, "two"),
      { type: "history", requestId: "h1" },
      { type: "batch", commands: [send("nested", 3, "no")] },
      send("c1", 1, "one"), // the same command again: its original ack (I3)
      send("empty", 3, "  "),
      send("c3", 3, "three"),
    ],
  });
  const errors: any[] = [];
  const acks: any[] = [];
  for (let from = 0; acks.length < 4 || errors.length < 4; ) {
    const frame = await alice.next((f) => f.type === "ack" || f.type === "error", 10_000, from);
    from = alice.frames.indexOf(frame) + 1;
    if (frame.type === "ack") acks.push(...frame.acks);
    else errors.push(frame);
  }
  assert.deepEqual(acks.map((a) => [a.clientId, a.seq, a.duplicate === true]), [["c1", 1, false], ["c2", 2, false], ["c1", 1, true], ["c3", 3, false]]);
  assert.deepEqual(errors.map((e) => [e.code, e.ref]), [["bad_frame", "bad1"], ["bad_frame", "h1"], ["bad_frame", undefined], ["text_empty", "empty"]]);
  for (const error of errors) expectTypedError(error, error.code);
  const seen = await bob.next((f) => f.type === "events" && f.events.some((e: any) => e.seq === 3));
  const delivered = bob.frames.filter((f) => f.type === "events").flatMap((f) => f.events.map((e: any) => [e.seq, e.clientId]));
  assert.ok(seen);
  assert.deepEqual(delivered, [[1, "c1"], [2, "c2"], [3, "c3"]], "nothing lost, nothing duplicated, order kept");
  const before = await history(room);

  const whole: Array<[string, unknown, keyof typeof ERRORS]> = [
    ["empty batch", { type: "batch", commands: [] }, "bad_frame"],
    ["too many commands", { type: "batch", commands: Array.from({ length: LIMITS.maxCommandsPerFrame + 1 }, (_, i) => send(`m${i}`, 4 + i, "x")) }, "bad_frame"],
    ["too many bytes", { type: "batch", commands: Array.from({ length: 8 }, (_, i) => send(`big${i}`, 4 + i, "z".repeat(LIMITS.maxFrameBytes / 6))) }, "frame_too_large"],
  ];
  for (const [name, frame, code] of whole) {
    const from = alice.frames.length;
    alice.send(frame);
    expectTypedError(await alice.next((f) => f.type === "error" || f.type === "ack", 10_000, from), code, name);
  }
  assert.deepEqual(await history(room), before, "refused batches change nothing");
  alice.send({ type: "batch", commands: [send("c4", 4, "four"), send("c5", 5, "five")] });
  const next = await alice.next((f) => f.type === "ack" && f.acks.some((a: any) => a.clientId === "c5"));
  assert.equal(next.acks.at(-1).seq, 5, "the next commands get exactly lastSeq + 1, + 2");
  alice.ws.close();
  bob.ws.close();
});

test("refused tokens: an accepted socket, one typed error frame, then a non-retryable 4001 close", async () => {
  const forged = await new SignJWT({ name: "Mallory" }).setProtectedHeader({ alg: "HS256" }).setSubject("alice").setExpirationTime("1h").sign(new TextEncoder().encode("not-the-secret"));
  const expired = await server.token("alice", { expiresIn: Math.floor(Date.now() / 1000) - 60 });
  const cases: Array<[string, Record<string, string>, keyof typeof ERRORS]> = [
    ["missing", { session: "s1" }, "unauthorized"],
    ["forged", { session: "s1", token: forged }, "unauthorized"],
    ["expired", { session: "s1", token: expired }, "token_expired"],
    ["garbage", { session: "s1", token: "abc.def.ghi" }, "unauthorized"],
  ];
  for (const [name, query, code] of cases) {
    const socket = await rawSocket(server, "auth-room", query);
    const closed = await socket.closed;
    assert.equal(closed.code, 4001, name);
    assert.equal(socket.frames.length, 1, `${name}: exactly one frame`);
    expectTypedError(socket.frames[0], code);
  }
  const stats = await server.fetchJson("/parties/room/auth-room/stats", { token: operatorToken });
  assert.equal(stats.body.lastSeq, 0, "refused sockets touched nothing");
});

test("a connect without a session id is refused with a typed error and 4008", async () => {
  const socket = await rawSocket(server, "auth-room", { token: await server.token("alice") });
  assert.equal((await socket.closed).code, 4008);
  expectTypedError(socket.frames[0], "bad_frame");
});

test("a direct conversation is open to its two participants only", async () => {
  const room = "dm:alice:bob";
  const carol = await rawSocket(server, room, { token: await server.token("carol"), session: "c1" });
  assert.equal((await carol.closed).code, 4003);
  expectTypedError(carol.frames[0], "forbidden");
  const ops = await rawSocket(server, room, { token: operatorToken, session: "o1" });
  assert.equal((await ops.closed).code, 4003, "operators inspect DMs through the audited operator API, not as participants");
  const alice = await join(room, "alice");
  alice.send({ type: "send", clientId: "dm1", n: 1, text: "hi bob" });
  assert.equal((await alice.next((f) => f.type === "ack")).acks[0].seq, 1);
  const carolHttp = await server.fetchJson(`/parties/room/${room}/history`, { token: await server.token("carol") });
  assert.equal(carolHttp.status, 403);
  assert.equal(carolHttp.body.error.code, "forbidden");
  alice.ws.close();
});

test("a percent-encoded room id is refused, so one conversation can never split into two actors", async () => {
  const encoded = await rawPartySocket(server, "room", "dm%3Aalice%3Abob", { token: await server.token("alice"), session: "e1" });
  assert.equal((await encoded.closed).code, 4008);
  expectTypedError(encoded.frames[0], "bad_frame");
  const http = await server.fetchJson(`/parties/room/dm%3Aalice%3Abob/history`, { token: await server.token("alice") });
  assert.equal(http.status, 400);
  assert.equal(http.body.error.code, "bad_frame");
  const inbox = await server.fetchJson(`/parties/inbox/al%69ce/conversations`, { token: await server.token("alice") });
  assert.equal(inbox.status, 400);
});

test("posting where one may not: an operators-only room refuses members, settings changes are operator-only and validated", async () => {
  const room = "announcements";
  const path = `/parties/room/${room}/settings`;
  const memberToken = await server.token("alice");
  const byMember = await server.fetchJson(path, { method: "PATCH", token: memberToken, body: JSON.stringify({ whoMayPost: "operators" }) });
  assert.equal(byMember.status, 403);
  assert.deepEqual(Object.keys(byMember.body.error).sort(), ["code", "message", "retryable"]);
  const malformed = await server.fetchJson(path, { method: "PATCH", token: operatorToken, body: JSON.stringify({ whoMayPost: "nobody", extra: 1 }) });
  assert.equal(malformed.status, 400);
  assert.equal(malformed.body.error.code, "bad_frame");
  const unchanged = await server.fetchJson(`/parties/room/${room}/stats`, { token: operatorToken });
  assert.equal(unchanged.body.settings.whoMayPost, "everyone", "a malformed body changes nothing");
  const set = await server.fetchJson(path, { method: "PATCH", token: operatorToken, body: JSON.stringify({ whoMayPost: "operators" }) });
  assert.equal(set.status, 200);

  const alice = await join(room, "alice");
  alice.send({ type: "send", clientId: "p1", n: 1, text: "can I post?" });
  expectTypedError(await alice.next((f) => f.type === "error"), "forbidden");
  const ops = await join(room, "ops", true);
  ops.send({ type: "send", clientId: "o1", n: 1, text: "Maintenance at 22:00" });
  assert.equal((await ops.next((f) => f.type === "ack")).acks[0].seq, 1);
  const events = await alice.next((f) => f.type === "events");
  assert.equal(events.events[0].text, "Maintenance at 22:00");
  alice.ws.close();
  ops.ws.close();
});

test("HTTP: no token 401, forged 401, non-operator 403, all with a typed body", async () => {
  const noToken = await server.fetchJson("/parties/room/x/stats");
  assert.equal(noToken.status, 401);
  assert.equal(noToken.body.error.code, "unauthorized");
  const forged = await server.fetchJson("/parties/room/x/stats", { token: "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJvcHMiLCJyb2xlIjoib3BlcmF0b3IifQ.c2lnbmF0dXJl" });
  assert.equal(forged.status, 401);
  const member = await server.fetchJson("/parties/room/x/stats", { token: await server.token("alice") });
  assert.equal(member.status, 403);
  assert.equal(member.body.error.retryable, false);
  const badLimit = await server.fetchJson("/parties/room/x/history?limit=100000", { token: await server.token("alice") });
  assert.equal(badLimit.status, 400);
  assert.equal(badLimit.body.error.code, "bad_frame");
});
