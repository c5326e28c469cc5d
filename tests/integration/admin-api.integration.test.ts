/**
 * The admin API against a real `partykit dev`: every route from the router table refuses a missing,
 * non-operator, forged or expired token with a typed body; malformed input gets a typed 400 and changes
 * nothing; the actions are sequenced events clients see in order, idempotent with a clientId (PROTOCOL I3);
 * moderation survives a restart; reading a DM writes a durable audit record first.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { SignJWT } from "jose";
import { ADMIN_ROUTES } from "../../party/worker/admin-routes.ts";
import { KaiwaError } from "../../client/index.ts";
import { KaiwaAdmin } from "../../client/admin.ts";
import { DevServer, waitFor } from "../helpers/dev-server.ts";
import { openClient, sendAll } from "../helpers/clients.ts";
import { assertRoomConsistent } from "../helpers/log-check.ts";
import { rawSocket } from "../helpers/raw-socket.ts";

const ROOM = "general";
let server: DevServer;
let admin: KaiwaAdmin;
/** Every typed client a test opened: closed in after(), so a failed assertion cannot leave one reconnecting. */
const opened: Array<{ room: { close(): void } }> = [];
const open = async (...args: Parameters<typeof openClient>) => {
  const client = await openClient(...args);
  opened.push(client);
  return client;
};

before(async () => {
  server = new DevServer({ vars: { KAIWA_DIRECTORY_INTERVAL_MS: 200 } });
  await server.start();
  admin = new KaiwaAdmin({ baseUrl: server.url, token: () => server.token("ops", { name: "Ops", operator: true }) });
});

after(async () => {
  for (const client of opened) client.room.close();
  await server?.stop();
});

const pathOf = (path: string, room = ROOM) => path.replace(":room", room);

function assertTypedError(result: { status: number; body: any }, status: number, code: string, what: string): void {
  assert.equal(result.status, status, `${what}: status ${result.status} ${JSON.stringify(result.body)}`);
  assert.equal(result.body?.error?.code, code, `${what}: ${JSON.stringify(result.body)}`);
  assert.equal(typeof result.body.error.message, "string", what);
  assert.equal(typeof result.body.error.retryable, "boolean", what);
}

async function roomState() {
  const detail = await admin.detail(ROOM);
  return { lastSeq: detail.lastSeq, settings: detail.settings, restrictions: detail.restrictions };
}

test("every admin route refuses missing, non-operator, forged and expired tokens (401/403, typed)", async () => {
  const user = await server.token("mallory");
  // Signed with another key but claiming the operator role: the signature check refuses it.
  const forged = await new SignJWT({ role: "operator", name: "Mallory" })
    .setProtectedHeader({ alg: "HS256" })
    .setSubject("mallory")
    .setExpirationTime("1h")
    .sign(new TextEncoder().encode("not-the-server-secret"));
  const expired = await server.token("ops", { operator: true, expiresIn: -60 });
  assert.ok(ADMIN_ROUTES.length >= 9);
  for (const route of ADMIN_ROUTES) {
    const what = `${route.method} ${route.path}`;
    const init = { method: route.method, ...(route.body ? { body: "{}", headers: { "content-type": "application/json" } } : {}) };
    const [none, asUser, asForged, asExpired] = await Promise.all([
      server.fetchJson(pathOf(route.path), init),
      server.fetchJson(pathOf(route.path), { ...init, token: user }),
      server.fetchJson(pathOf(route.path), { ...init, token: forged }),
      server.fetchJson(pathOf(route.path), { ...init, token: expired }),
    ]);
    assertTypedError(none, 401, "unauthorized", `${what} without token`);
    assertTypedError(asUser, 403, "forbidden", `${what} as a user`);
    assertTypedError(asForged, 401, "unauthorized", `${what} forged`);
    assertTypedError(asExpired, 401, "token_expired", `${what} expired`);
  }
  // The room's own admin routes (reachable with a token through the room party) check the role too.
  for (const action of ["detail", "messages", "audit", "delete", "announce", "moderate"]) {
    const method = ["detail", "messages", "audit"].includes(action) ? "GET" : "POST";
    const result = await server.fetchJson(`/parties/room/${ROOM}/admin/${action}`, { method, token: user, ...(method === "POST" ? { body: "{}" } : {}) });
    assertTypedError(result, 403, "forbidden", `room admin/${action} as a user`);
  }
  const operator = await server.token("ops", { operator: true });
  assertTypedError(await server.fetchJson("/admin/nope", { token: operator }), 404, "not_found", "unknown route");
  // The directory answers party-to-party only: a forged report from outside is refused, even for operators.
  const forgedReport = JSON.stringify({ room: "fake", kind: "room", bootId: "x", epoch: "x", lastSeq: 1, connections: 999, observers: 0, messagesTotal: 0, messagesPerSecond: 0, errors: {}, ackLatency: { bucketsMs: [], counts: [0], sumMs: 0, count: 0 }, archiveLag: 0, reportFailures: 0 });
  assertTypedError(await server.fetchJson("/parties/directory/global/report", { method: "POST", token: operator, body: forgedReport }), 404, "not_found", "external directory report");
  assert.equal((await admin.rooms({ q: "fake" })).total, 0, "the forged report changed nothing");
  assertTypedError(await server.fetchJson("/admin/rooms", { method: "DELETE", token: operator }), 404, "not_found", "wrong method");
});

test("malformed input gets a typed 400 and changes nothing", async () => {
  const client = await open(server, ROOM, "alice");
  await sendAll(client, ["one", "two"]);
  const beforeState = await roomState();
  const operator = await server.token("ops", { operator: true });
  const badBodies = ["not json", "[]", "{}", JSON.stringify({ target: "1" }), JSON.stringify({ text: "", extra: true }), JSON.stringify({ user: "a b", action: "ban", durationMs: -1 }), JSON.stringify({ maxTextChars: 0 }), JSON.stringify({ whoMayPost: "anyone" })];
  let checked = 0;
  for (const route of ADMIN_ROUTES) {
    const what = `${route.method} ${route.path}`;
    if (route.path.includes(":room")) {
      assertTypedError(await server.fetchJson(pathOf(route.path, "bad%20room"), { method: route.method, token: operator, body: route.body ? "{}" : undefined }), 400, "bad_frame", `${what} bad room id`);
      checked++;
    }
    if (route.query) {
      for (const query of ["?limit=0", "?limit=abc", "?limit=100000", "?before=-1"]) {
        const result = await server.fetchJson(pathOf(route.path) + query, { method: route.method, token: operator });
        if (query === "?before=-1" && !route.path.endsWith("/messages")) continue; // only messages takes `before`
        assertTypedError(result, 400, "bad_frame", `${what}${query}`);
        checked++;
      }
    }
    if (route.body) {
      for (const body of badBodies) {
        const result = await server.fetchJson(pathOf(route.path), { method: route.method, token: operator, body, headers: { "content-type": "application/json" } });
        // {} is a valid (empty) settings patch; every other body is wrong for every route.
        if (body === "{}" && route.path.endsWith("/settings")) {
          assert.equal(result.status, 200, what);
          continue;
        }
        assertTypedError(result, 400, "bad_frame", `${what} ${body}`);
        checked++;
      }
    }
  }
  // The room validates again when reached directly (PROTOCOL I8 at every boundary).
  for (const action of ["delete", "announce", "moderate"]) {
    assertTypedError(await server.fetchJson(`/parties/room/${ROOM}/admin/${action}`, { method: "POST", token: operator, body: "{}" }), 400, "bad_frame", `room admin/${action}`);
  }
  assert.ok(checked > 40, `checked ${checked} malformed requests`);
  assert.deepEqual(await roomState(), beforeState, "nothing changed");
  // A positive marker instead of a sleep: a message sent after every refusal was answered. Had a refused
  // request made an event, it would come before this one.
  await sendAll(client, ["three"]);
  await waitFor(() => client.observed.events.length >= 3, 10_000, "the marker message");
  assert.deepEqual(client.observed.events.map((e) => [e.seq, e.clientId]), client.observed.sent.map((id, i) => [i + 1, id]), "clients saw no event from refused requests");
  assert.equal((await roomState()).lastSeq, beforeState.lastSeq + 1, "only the marker took a seq");
  client.room.close();
});

test("actions are sequenced events clients see in order; a retried action keeps its seq (PROTOCOL I3)", async () => {
  const alice = await open(server, "actions", "alice");
  const bob = await open(server, "actions", "bob");
  const typed: string[] = [];
  alice.room.on("announcement", (e) => typed.push(`announcement:${e.text}`));
  alice.room.on("moderation", (e) => typed.push(`${e.action}:${e.user}`));
  await sendAll(alice, ["hello", "rude"]);
  const rude = alice.observed.acks.get(alice.observed.sent[1]!)!;

  const deleted = await admin.deleteMessage("actions", rude, "del-1");
  const deletedAgain = await admin.deleteMessage("actions", rude, "del-1");
  assert.equal(deletedAgain.seq, deleted.seq);
  assert.equal(deletedAgain.duplicate, true);
  const twice = await admin.deleteMessage("actions", rude).catch((error: unknown) => error);
  assert.ok(twice instanceof KaiwaError && twice.code === "already_deleted", String(twice));

  const notice = await admin.announce("actions", "Welcome!", "ann-1");
  assert.equal((await admin.announce("actions", "Welcome!", "ann-1")).seq, notice.seq);
  assert.equal(notice.seq, deleted.seq + 1);

  // Mute: bob may not post, may still delete his own message; unmute lifts it.
  await sendAll(bob, ["bob's first"]);
  const bobsFirst = bob.observed.acks.get(bob.observed.sent[0]!)!;
  await admin.moderate("actions", { user: "bob", action: "mute", durationMs: 60_000 });
  const muted = await bob.room.send("can I talk?").catch((error: unknown) => error);
  assert.ok(muted instanceof KaiwaError && muted.code === "muted" && !muted.retryable, String(muted));
  const own = await bob.room.delete(bobsFirst);
  bob.observed.sent.push(own.clientId);
  bob.observed.acks.set(own.clientId, own.seq);
  await admin.moderate("actions", { user: "bob", action: "unmute" });
  await sendAll(bob, ["back"]);

  // Settings: a durable change the room enforces at once.
  assert.equal((await admin.settings("actions", { maxTextChars: 5 })).maxTextChars, 5);
  const long = await alice.room.send("too long for now").catch((error: unknown) => error);
  assert.ok(long instanceof KaiwaError && long.code === "text_too_long", String(long));

  const detail = await admin.detail("actions");
  await waitFor(() => alice.observed.events.length === detail.lastSeq && bob.observed.events.length === detail.lastSeq, 10_000, "both clients caught up");
  assertRoomConsistent([alice.observed, bob.observed], detail.lastSeq);
  const kinds = alice.observed.events.map((e) => (e.kind === "moderation" ? `${e.action}:${e.user}` : e.kind));
  assert.deepEqual(kinds, ["message", "message", "delete", "announcement", "message", "mute:bob", "delete", "unmute:bob", "message"]);
  assert.deepEqual(typed, ["announcement:Welcome!", "mute:bob", "unmute:bob"], "the client's typed events");
  assert.deepEqual(detail.members.map((m) => m.id), ["alice", "bob"]);
  assert.equal(detail.connections, 2);
  alice.room.close();
  bob.room.close();
});

test("a ban closes the user's sockets, is refused on reconnect, and survives a restart", async () => {
  const carol = await open(server, "banroom", "carol");
  const ban = await admin.moderate("banroom", { user: "carol", action: "ban", durationMs: 600_000 });
  await waitFor(() => carol.room.status === "closed", 10_000, "carol closed");
  const refused = await carol.room.send("hi").catch((error: unknown) => error);
  assert.ok(refused instanceof KaiwaError && refused.code === "banned", String(refused));
  assert.equal(carol.observed.events.at(-1)?.seq, ban.seq, "carol saw her ban as the last event");

  await server.restart();
  const socket = await rawSocket(server, "banroom", { token: await server.token("carol"), session: "again" });
  assert.equal((await socket.next((f) => f.type === "error")).code, "banned");
  assert.equal((await socket.closed).code, 4030);
  assert.deepEqual((await admin.detail("banroom")).restrictions.map((r) => r.user), ["carol"]);
  await admin.moderate("banroom", { user: "carol", action: "unban" });
  const back = await open(server, "banroom", "carol");
  await sendAll(back, ["thanks"]);
  back.room.close();
});

test("reading a DM's messages writes a durable audit record first; public rooms are not audited", async () => {
  const dm = "dm:alice:bob";
  const alice = await open(server, dm, "alice");
  await sendAll(alice, ["private words"]);
  assert.deepEqual(await admin.audit(dm), []);
  const page = await admin.messages(dm, { limit: 10 });
  assert.deepEqual(page.events.map((e) => e.kind === "message" && e.text), ["private words"]);
  assert.deepEqual(page.events.map((e) => [e.seq, e.clientId]), [[1, alice.observed.sent[0]]]);
  const records = await admin.audit(dm);
  assert.equal(records.length, 1);
  assert.equal(records[0]!.operator.id, "ops");
  assert.equal(records[0]!.room, dm);
  assert.deepEqual([records[0]!.from, records[0]!.before], [1, 2]);

  // "First": the record is stamped before the content left the room, names exactly the seqs that were
  // served, and is durable by the time the answer arrives: the server is SIGKILLed the moment the page is
  // in, and the record is still there after the restart. A record written after answering (or not awaited)
  // would be lost to that kill.
  await sendAll(alice, ["more", "private", "words", "here"]);
  const asked = Date.now();
  const response = await fetch(`${server.url}/admin/rooms/${dm}/messages?before=5&limit=2`, { headers: { authorization: `Bearer ${await server.token("ops", { operator: true })}` } });
  const answeredAt = Date.now(); // the response's status and headers are in: the content has left the room
  const body = (await response.json()) as { events: Array<{ seq: number; clientId: string }> };
  await server.kill();
  assert.equal(response.status, 200);
  assert.deepEqual(body.events.map((e) => [e.seq, e.clientId]), [[3, alice.observed.sent[2]], [4, alice.observed.sent[3]]], "the page before 5, with the acked clientIds");
  await server.start();
  const after = await admin.audit(dm);
  assert.equal(after.length, 2, "both reads audited, the second survived a SIGKILL right after its answer");
  const newest = after[0]!;
  assert.deepEqual([newest.from, newest.before], [3, 5], "the record names exactly the seqs served (3 and 4)");
  assert.equal(newest.operator.id, "ops");
  assert.ok(newest.ts >= asked - 1000 && newest.ts <= answeredAt, `stamped ${newest.ts}, asked at ${asked}, answered at ${answeredAt}`);
  assert.deepEqual(after[1], records[0], "the first record unchanged");
  await admin.messages(ROOM);
  assert.deepEqual(await admin.audit(ROOM), []);
  // Operators cannot open the DM's socket either: content only through the audited route.
  const socket = await rawSocket(server, dm, { token: await server.token("ops", { operator: true }), session: "peek" });
  assert.equal((await socket.next((f) => f.type === "error")).code, "forbidden");
  alice.room.close();

  await waitFor(async () => (await admin.rooms({ q: "dm:" })).rooms.some((r) => r.room === dm), 10_000, "the DM in the directory");
  const listed = await admin.rooms({ q: "dm:" });
  assert.deepEqual(listed.rooms.map((r) => r.kind), ["dm"]);
});

test("an audited read serves no content when its audit record cannot be stored: the record comes first", async () => {
  // The test above shows a served page's record survives a SIGKILL. This one shows the other half: with
  // every audit write failing (KAIWA_TEST_FAIL_AUDIT_WRITE, a rejected put as a storage failure gives), the
  // operator gets a typed 503 and not one word of content. A room that read and answered without awaiting
  // the record, swallowed its failure, or wrote it after answering would serve the page here.
  const dm = "dm:alice:dave";
  const alice = await open(server, dm, "alice");
  await sendAll(alice, ["secret one", "secret two"]);
  const author = await open(server, "audit-edits", "alice");
  await sendAll(author, ["first draft"]);
  alice.room.close();
  author.room.close();
  const ops = `Bearer ${await server.token("ops", { operator: true })}`;
  await server.kill();
  const faulty = new DevServer({ stateDir: server.stateDir, vars: { KAIWA_TEST_FAIL_AUDIT_WRITE: 1 } });
  try {
    await faulty.start();
    for (const path of [`/admin/rooms/${dm}/messages?limit=10`, `/admin/rooms/${dm}/messages?before=3&limit=1`, "/admin/rooms/audit-edits/edits?seq=1"]) {
      const response = await fetch(`${faulty.url}${path}`, { headers: { authorization: ops } });
      const text = await response.text();
      assert.equal(response.status, 503, `${path}: ${text}`);
      const body = JSON.parse(text) as { error?: { code: string; retryable: boolean }; events?: unknown; versions?: unknown };
      assert.equal(body.error?.code, "storage_failed", path);
      assert.equal(body.error?.retryable, true);
      assert.equal(body.events, undefined);
      assert.equal(body.versions, undefined);
      for (const word of ["secret", "draft"]) assert.ok(!text.includes(word), `${path} leaked content: ${text}`);
    }
    // Only audited reads are refused: an open room's page needs no record and is served.
    const plain = await fetch(`${faulty.url}/admin/rooms/audit-edits/messages?limit=10`, { headers: { authorization: ops } });
    assert.equal(plain.status, 200);
    assert.deepEqual(((await plain.json()) as { events: Array<{ seq: number }> }).events.map((e) => e.seq), [1]);
  } finally {
    await faulty.kill();
  }
  await server.start();
  assert.deepEqual(await admin.audit(dm), [], "no record of a read that served nothing");
  assert.deepEqual(await admin.audit("audit-edits"), []);
  // With the writes working again the same reads are served, each with its record.
  const page = await admin.messages(dm, { limit: 10 });
  assert.deepEqual(page.events.map((e) => e.kind === "message" && e.text), ["secret one", "secret two"]);
  assert.equal((await admin.edits("audit-edits", 1)).versions.length, 1);
  assert.deepEqual((await admin.audit(dm)).map((r) => r.action), ["read_messages"]);
  assert.deepEqual((await admin.audit("audit-edits")).map((r) => r.action), ["read_edits"]);
});
