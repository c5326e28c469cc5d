/**
 * Presence in an open room names people only while it is small (LIMITS.presenceListMaxUsers present
 * users). Above it the room is an audience: presence frames carry the count alone, so a live-stream chat
 * of thousands does not send every socket every name that comes and goes, and clients forget the names.
 * At 80% of the limit or below, the room names everyone present again. The watcher's view is kept by the
 * client library's own RoomMembers, so the test checks what an app would show.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { RoomMembers } from "../../client/room-members.ts";
import { LIMITS } from "../../party/protocol/index.ts";
import { DevServer, waitFor } from "../helpers/dev-server.ts";
import { rawSocket } from "../helpers/raw-socket.ts";

const server = new DevServer();
before(() => server.start());
after(() => server.stop());

test("an open room above the limit sends the count alone; at 80% of it or below, everyone's names again (PROTOCOL R15)", async () => {
  const room = "audience";
  const watcher = await rawSocket(server, room, { token: await server.token("watcher"), session: "w" });
  await watcher.next((f) => f.type === "welcome");
  const view = new RoomMembers();
  let applied = 0;
  const catchUp = () => {
    for (; applied < watcher.frames.length; applied++) if (watcher.frames[applied].type === "presence") view.presence(watcher.frames[applied]);
  };
  const crowd = LIMITS.presenceListMaxUsers + 10;
  const users = Array.from({ length: crowd }, (_, i) => `v${i}`);
  const sockets = await Promise.all(users.map(async (user) => rawSocket(server, room, { token: await server.token(user), session: "s" })));
  await Promise.all(sockets.map((socket) => socket.next((f) => f.type === "welcome")));
  const full = await watcher.next((f) => f.type === "presence" && f.count === crowd + 1);
  assert.deepEqual([full.joined, full.left, full.listed], [[], [], false], "an audience: the count alone");
  catchUp();
  assert.equal(view.present.size, 0, "the client forgot the names it can no longer keep true");
  assert.equal(view.occupancy, crowd + 1);

  // 40 leave: the room drops below 80% of the limit and names everyone still there.
  const leaving = 40;
  for (const socket of sockets.slice(0, leaving)) socket.ws.close();
  await waitFor(() => (catchUp(), view.occupancy === crowd + 1 - leaving), 10_000, "the count after 40 left");
  const expected = ["watcher", ...users.slice(leaving)].sort();
  assert.ok(expected.length <= LIMITS.presenceListMaxUsers * 0.8);
  assert.deepEqual([...view.present].sort(), expected);
  for (const socket of [...sockets.slice(leaving), watcher]) socket.ws.close();
});
