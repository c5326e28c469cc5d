/**
 * A client's transport can vanish without a close frame (lost network, a killed tab, a reconnect storm).
 * Nobody is left to answer, so the server must let such a socket go (presence updated) without closing
 * it again. The inbox used to close it anyway, and for a freshly opened socket `partykit dev` answered
 * with an uncaught "Network connection lost" and a stack trace, costing both of its processes about half
 * a millisecond (a bare party does it for every socket). The room's test checks presence; its sockets
 * never made the platform complain. A clean close, by contrast, waits for the server's answer and gets it.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { DevServer, sleep } from "../helpers/dev-server.ts";
import { closedWithin, rawPartySocket, rawSocket } from "../helpers/raw-socket.ts";

const server = new DevServer();
before(() => server.start());
after(() => server.stop());

const PLATFORM_ERROR = /Network connection lost|Uncaught/;

test("room: cut transports leave presence at once, and the server logs no error for them", async () => {
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
  await sleep(500); // the platform logs asynchronously
  assert.doesNotMatch(server.logSince(mark), PLATFORM_ERROR);
  watcher.ws.close();
});

test("inbox: a cut transport goes offline for its contacts, and the server logs no error for it (PROTOCOL IB6)", async () => {
  // carol writes to erin once, so each is the other's contact and sees the other's online status.
  const carolToken = await server.token("carol");
  const first = await rawPartySocket(server, "inbox", "carol", { token: carolToken, session: "c0" });
  await first.next((f) => f.type === "welcome");
  first.send({ type: "dm", to: "erin", clientId: "hello", n: 1, text: "hi" });
  await first.next((f) => f.type === "ack");
  const erin = await rawPartySocket(server, "inbox", "erin", { token: await server.token("erin"), session: "e1" });
  await erin.next((f) => f.type === "welcome");
  let from = erin.frames.length;
  first.ws.close();
  await erin.next((f) => f.type === "presence" && f.user === "carol" && f.online === false, 10_000, from);
  await sleep(300); // whatever that clean close printed is out before the mark
  // A device comes and its network goes at once (it is the fresh socket that makes the platform complain).
  const mark = server.logMark();
  const device = await rawPartySocket(server, "inbox", "carol", { token: carolToken, session: "c1" });
  await device.next((f) => f.type === "welcome");
  from = erin.frames.length;
  device.ws.terminate();
  await erin.next((f) => f.type === "presence" && f.user === "carol" && f.online === false, 10_000, from);
  await sleep(500); // the platform's error line, when there is one, comes within milliseconds of the close
  assert.doesNotMatch(server.logSince(mark), PLATFORM_ERROR);
  erin.ws.close();
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
