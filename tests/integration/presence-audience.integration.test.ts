/**
 * Presence in an open room is named only while the room is small (LIMITS.presenceListMaxSockets). Above
 * it the room is an audience: presence frames carry the count alone, so a live-stream chat of thousands
 * does not send every socket every name that comes and goes. Below it again, names come back.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { LIMITS } from "../../party/protocol/index.ts";
import { DevServer } from "../helpers/dev-server.ts";
import { rawSocket } from "../helpers/raw-socket.ts";

const server = new DevServer();
before(() => server.start());
after(() => server.stop());

test("an open room above the limit sends the count alone; below it, names again", async () => {
  const room = "audience";
  const watcher = await rawSocket(server, room, { token: await server.token("watcher"), session: "w" });
  await watcher.next((f) => f.type === "welcome");
  const crowd = LIMITS.presenceListMaxSockets + 10;
  const sockets = await Promise.all(Array.from({ length: crowd }, async (_, i) => rawSocket(server, room, { token: await server.token(`v${i}`), session: "s" })));
  await Promise.all(sockets.map((socket) => socket.next((f) => f.type === "welcome")));
  const full = await watcher.next((f) => f.type === "presence" && f.count === crowd + 1);
  assert.equal(full.listed, false);
  assert.deepEqual([full.joined, full.left], [[], []]);
  // Every presence frame seen while the room was above the limit named nobody.
  for (const frame of watcher.frames.filter((f) => f.type === "presence" && f.count > LIMITS.presenceListMaxSockets)) {
    assert.deepEqual([frame.joined, frame.left, frame.listed], [[], [], false]);
  }
  // Ten leave: still above the limit (count + 1 for the watcher), so the frame names nobody.
  const beforeTen = watcher.frames.length;
  for (const socket of sockets.slice(0, 10)) socket.ws.close();
  const stillBig = await watcher.next((f) => f.type === "presence" && f.count === crowd + 1 - 10, 10_000, beforeTen);
  assert.deepEqual([stillBig.joined, stillBig.left, stillBig.listed], [[], [], false]);
  // Twenty more: from the first of them on the room is at or below the limit, so every frame names them.
  const from = watcher.frames.length;
  for (const socket of sockets.slice(10, 30)) socket.ws.close();
  const left = new Set<string>();
  const smaller = await watcher.next((f) => {
    if (f.type === "presence") for (const user of f.left) left.add(user);
    return f.type === "presence" && f.count === crowd + 1 - 30;
  }, 10_000, from);
  assert.equal(smaller.listed, undefined, "a room at or below the limit names who comes and goes");
  assert.deepEqual([...left].sort(), Array.from({ length: 20 }, (_, i) => `v${i + 10}`).sort());
  for (const socket of [...sockets.slice(30), watcher]) socket.ws.close();
});
