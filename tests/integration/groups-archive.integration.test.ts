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
