/**
 * Groups meet the archive: search follows group membership as the room's sequenced events set it. A
 * member finds the group's messages; once removed, they no longer do (enforced in SQL by `left_ts`),
 * and an operator who only watched the room never became a member.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { DevServer } from "../helpers/dev-server.ts";
import { ArchiveDb } from "../helpers/archive-db.ts";
import { waitDrained } from "../helpers/archive-check.ts";
import { rawSocket } from "../helpers/raw-socket.ts";

const db = new ArchiveDb();
let server: DevServer;
const GROUP = "g:search-team";

before(async () => {
  await db.start();
  server = new DevServer({ vars: { ...db.vars, KAIWA_ARCHIVE_DELAY_MS: 50 } });
  await server.start();
});
after(async () => {
  await server?.stop();
  await db.stop();
});

async function hits(user: string, q: string, operator = false): Promise<number[]> {
  const response = await server.fetchJson(`/archive/search?${new URLSearchParams({ q, room: GROUP })}`, { token: await server.token(user, { operator }) });
  assert.equal(response.status, 200, JSON.stringify(response.body));
  return response.body.results.map((r: any) => r.seq);
}

test("search follows group membership events: removed members stop finding the group's messages", async () => {
  const owner = await rawSocket(server, GROUP, { token: await server.token("olga"), session: "o1" });
  await owner.next((f) => f.type === "welcome");
  owner.send({ type: "group.create", clientId: "c", n: 1, title: "Search team", members: ["bob"] });
  await owner.next((f) => f.type === "ack");
  const watcher = await rawSocket(server, GROUP, { token: await server.token("ops", { operator: true }), session: "w1", observe: "1" });
  await watcher.next((f) => f.type === "welcome");
  owner.send({ type: "send", clientId: "m1", n: 2, text: "既読がつかない問題" });
  const sent = await owner.next((f) => f.type === "ack" && f.acks.some((a: any) => a.clientId === "m1"));
  const seq = sent.acks.find((a: any) => a.clientId === "m1").seq;
  await waitDrained(server, GROUP);
  assert.deepEqual(await hits("olga", "既読"), [seq]);
  assert.deepEqual(await hits("bob", "既読"), [seq], "an invited member who never connected finds it");
  assert.deepEqual(await hits("ops", "既読", true), [], "watching as an operator is not membership");
  owner.send({ type: "member.remove", clientId: "r", n: 3, user: "bob" });
  await owner.next((f) => f.type === "ack" && f.acks.some((a: any) => a.clientId === "r"));
  await waitDrained(server, GROUP);
  assert.deepEqual(await hits("bob", "既読"), [], "removed: the group is gone from bob's search");
  assert.deepEqual(await hits("olga", "既読"), [seq]);
  owner.ws.close();
  watcher.ws.close();
});

async function search(user: string, q: string, room?: string): Promise<Array<{ room: string; seq: number }>> {
  const params = new URLSearchParams({ q, ...(room ? { room } : {}) });
  const response = await server.fetchJson(`/archive/search?${params}`, { token: await server.token(user) });
  assert.equal(response.status, 200, JSON.stringify(response.body));
  return response.body.results.map((r: any) => ({ room: r.room, seq: r.seq }));
}

async function command(socket: Awaited<ReturnType<typeof rawSocket>>, frame: Record<string, unknown>): Promise<number> {
  socket.send(frame);
  const ack = await socket.next((f) => f.type === "ack" && f.acks.some((a: any) => a.clientId === frame.clientId));
  return ack.acks.find((a: any) => a.clientId === frame.clientId).seq;
}

test("PROTOCOL R14a: a socket opened on a group id before the group exists never makes its user a searcher", async () => {
  const room = "g:leak-before-create";
  // Eve guesses the id and joins first: the room admits her (the creator needs the same socket).
  const eve = await rawSocket(server, room, { token: await server.token("eve"), session: "e1" });
  await eve.next((f) => f.type === "welcome");
  const olga = await rawSocket(server, room, { token: await server.token("olga"), session: "o1" });
  await olga.next((f) => f.type === "welcome");
  assert.equal(await command(olga, { type: "group.create", clientId: "create", n: 1, title: "Secret", members: ["bob"] }), 1);
  assert.equal((await eve.closed).code, 4004, "a non-member's early socket closes once the group exists");
  const secret = await command(olga, { type: "send", clientId: "secret-1", n: 2, text: "秘密の計画は金曜日" });
  assert.equal(secret, 2);
  await waitDrained(server, room);
  assert.deepEqual(await search("eve", "秘密"), [], "eve: nothing from the group, with or without a room filter");
  assert.deepEqual(await search("eve", "秘密", room), []);
  assert.deepEqual(await search("mallory", "秘密"), [], "someone who never came: nothing");
  assert.deepEqual(await search("bob", "秘密", room), [{ room, seq: secret }], "an invited member finds it");
  assert.deepEqual(await search("olga", "秘密", room), [{ room, seq: secret }]);
  // The room agrees on every other read path: history over HTTP and a new socket.
  const history = await server.fetchJson(`/parties/room/${room}/history`, { token: await server.token("eve") });
  assert.equal(history.status, 403);
  assert.equal(history.body.error.code, "not_member");
  const again = await rawSocket(server, room, { token: await server.token("eve"), session: "e2" });
  assert.equal((await again.next((f) => f.type === "error")).code, "not_member");
  assert.equal((await again.closed).code, 4004);
  olga.ws.close();
});

test("PROTOCOL R14a: members who leave stop finding the group, re-added ones find it again", async () => {
  const room = "g:leak-leave";
  const olga = await rawSocket(server, room, { token: await server.token("olga"), session: "o1" });
  await olga.next((f) => f.type === "welcome");
  await command(olga, { type: "group.create", clientId: "create", n: 1, title: "Leavers", members: ["carol", "dan"] });
  const carol = await rawSocket(server, room, { token: await server.token("carol"), session: "c1" });
  await carol.next((f) => f.type === "welcome");
  const posted = await command(olga, { type: "send", clientId: "note-1", n: 2, text: "打ち合わせメモ leavers" });
  await waitDrained(server, room);
  assert.deepEqual(await search("carol", "leavers", room), [{ room, seq: posted }]);
  await command(carol, { type: "group.leave", clientId: "bye", n: 1 });
  await command(olga, { type: "member.remove", clientId: "rm-dan", n: 3, user: "dan" });
  await waitDrained(server, room);
  assert.deepEqual(await search("carol", "leavers"), [], "left: the group is gone from carol's search");
  assert.deepEqual(await search("dan", "leavers"), [], "removed: the group is gone from dan's search");
  await command(olga, { type: "member.add", clientId: "add-dan", n: 4, user: "dan" });
  await waitDrained(server, room);
  assert.deepEqual(await search("dan", "leavers", room), [{ room, seq: posted }], "re-added: found again");
  assert.deepEqual(await search("carol", "leavers"), [], "carol stays out");
  olga.ws.close();
});

test("PROTOCOL R14a: a 'seen' membership row in a group (written by an older version) opens nothing", async () => {
  const room = "g:leak-old-rows";
  const olga = await rawSocket(server, room, { token: await server.token("olga"), session: "o1" });
  await olga.next((f) => f.type === "welcome");
  await command(olga, { type: "group.create", clientId: "create", n: 1, title: "Old rows", members: [] });
  const posted = await command(olga, { type: "send", clientId: "m", n: 2, text: "古い行 oldrows" });
  await waitDrained(server, room);
  // What the earlier code wrote for a user who joined before the group existed.
  await db.query(`INSERT INTO archive_members (room_id, user_id, since_ts, source) VALUES ($1, 'eve', 0, 'seen')`, [room]);
  assert.deepEqual(await search("eve", "oldrows"), []);
  assert.deepEqual(await search("olga", "oldrows"), [{ room, seq: posted }]);
  olga.ws.close();
});

test("open rooms: a user who joined finds the room's messages, one who never joined does not", async () => {
  const room = "open-lobby-search";
  const erin = await rawSocket(server, room, { token: await server.token("erin"), session: "e1" });
  await erin.next((f) => f.type === "welcome");
  const olga = await rawSocket(server, room, { token: await server.token("olga"), session: "o1" });
  await olga.next((f) => f.type === "welcome");
  const posted = await command(olga, { type: "send", clientId: "hello", n: 1, text: "ロビーの話 lobbytalk" });
  await waitDrained(server, room);
  assert.deepEqual(await search("erin", "lobbytalk"), [{ room, seq: posted }]);
  assert.deepEqual(await search("olga", "lobbytalk"), [{ room, seq: posted }]);
  assert.deepEqual(await search("mallory", "lobbytalk"), []);
  erin.ws.close();
  olga.ws.close();
});
