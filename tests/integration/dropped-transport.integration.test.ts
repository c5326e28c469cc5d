/**
 * A client's transport can vanish without a close frame (lost network, a killed tab, a reconnect storm).
 * Nobody is left to answer, so the server must let such a socket go (presence updated) without closing
 * it again. The inbox used to close it anyway, and `partykit dev` answered each time with an uncaught
 * "Network connection lost" and a stack trace, costing both of its processes about half a millisecond.
 * (The room's close of a cut socket never reached the platform; it now skips it by the same rule.)
 * A clean close, by contrast, waits for the server's answer and must get it.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { DevServer } from "../helpers/dev-server.ts";
import { rawPartySocket, rawSocket, type RawSocket } from "../helpers/raw-socket.ts";

const server = new DevServer();
before(() => server.start());
after(() => server.stop());

const PLATFORM_ERROR = /Network connection lost|Uncaught/;

/** Resolves with the close code the client saw, or fails if the server never answered. */
function closedWithin(socket: RawSocket, ms: number): Promise<number> {
  return Promise.race([
    socket.closed.then(({ code }) => code),
    new Promise<number>((_, reject) => setTimeout(() => reject(new Error(`no close answer within ${ms} ms`)), ms)),
  ]);
}

test("room: cut transports leave presence, and the server logs no error for them", async () => {
  const room = "dropped-room";
  const watcher = await rawSocket(server, room, { token: await server.token("watcher"), session: "w" });
  await watcher.next((f) => f.type === "welcome");
  const users = Array.from({ length: 10 }, (_, i) => `cut${i}`);
  const sockets = await Promise.all(users.map(async (user) => rawSocket(server, room, { token: await server.token(user), session: "s" })));
  await Promise.all(sockets.map((socket) => socket.next((f) => f.type === "welcome")));
  const joined = new Set<string>();
  await watcher.next((f) => {
    if (f.type === "presence") for (const user of f.joined) joined.add(user);
    return users.every((user) => joined.has(user));
  });
  const mark = server.logMark();
  const from = watcher.frames.length;
  for (const socket of sockets) socket.ws.terminate();
  const left = new Set<string>();
  const last = await watcher.next((f) => {
    if (f.type === "presence") for (const user of f.left) left.add(user);
    return users.every((user) => left.has(user));
  }, 10_000, from);
  assert.equal(last.count, 1, "only the watcher is still counted");
  await new Promise((resolve) => setTimeout(resolve, 500)); // the platform logs asynchronously
  assert.doesNotMatch(server.logSince(mark), PLATFORM_ERROR);
  watcher.ws.close();
});

test("inbox: a cut transport goes offline, and the server logs no error for it", async () => {
  const token = await server.token("carol");
  const device = await rawPartySocket(server, "inbox", "carol", { token, session: "c1" });
  await device.next((f) => f.type === "welcome");
  const mark = server.logMark();
  device.ws.terminate();
  await device.closed;
  // The next device sees an inbox that counted the cut one out: its own socket is the only one.
  const again = await rawPartySocket(server, "inbox", "carol", { token, session: "c2" });
  await again.next((f) => f.type === "welcome");
  await new Promise((resolve) => setTimeout(resolve, 500));
  assert.doesNotMatch(server.logSince(mark), PLATFORM_ERROR);
  again.ws.close();
});

test("a clean close is answered (1000) by the room and by the inbox", async () => {
  const room = await rawSocket(server, "clean-close", { token: await server.token("dave"), session: "d" });
  await room.next((f) => f.type === "welcome");
  room.ws.close(1000);
  assert.equal(await closedWithin(room, 5_000), 1000);
  const inbox = await rawPartySocket(server, "inbox", "dave", { token: await server.token("dave"), session: "d" });
  await inbox.next((f) => f.type === "welcome");
  inbox.ws.close(1000);
  assert.equal(await closedWithin(inbox, 5_000), 1000);
});
