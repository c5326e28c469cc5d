/**
 * PROTOCOL R13 with a half-open predecessor: a device's old socket never answers the room's close (its network is
 * gone), so the room may not hear that socket close for minutes. The room must stop counting it when it
 * closes it, or the user would stay "online" after their live socket leaves.
 */
import assert from "node:assert/strict";
import { connect, type Socket } from "node:net";
import { after, before, test } from "node:test";
import { DevServer } from "../helpers/dev-server.ts";
import { rawSocket } from "../helpers/raw-socket.ts";

const server = new DevServer();
before(() => server.start());
after(() => server.stop());

/** A WebSocket upgrade by hand that, once welcomed, never writes again: no close reply, no pong. */
function halfOpenSocket(path: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const [host, port] = server.host.split(":");
    const socket = connect(Number(port), host!);
    let seen = "";
    socket.on("error", reject);
    socket.on("data", (chunk) => {
      seen += chunk.toString("latin1");
      if (seen.includes('"type":"welcome"')) resolve(socket);
    });
    socket.write(
      `GET ${path} HTTP/1.1\r\nHost: ${server.host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    );
  });
}

test("a replaced half-open socket stops counting at once: the user leaves when their live socket does", async () => {
  const room = "half-open";
  const watcher = await rawSocket(server, room, { token: await server.token("wendy"), session: "w1" });
  await watcher.next((f) => f.type === "welcome");
  const token = await server.token("alice");
  const dead = await halfOpenSocket(`/parties/room/${room}?token=${token}&session=phone`);
  try {
    await watcher.next((f) => f.type === "presence" && f.joined.includes("alice"));
    // The phone comes back on a new socket in the same session: the room closes the old one (4012),
    // which never answers.
    const live = await rawSocket(server, room, { token, session: "phone" });
    await live.next((f) => f.type === "welcome");
    const from = watcher.frames.length;
    live.ws.close();
    const left = await watcher.next((f) => f.type === "presence" && f.left.includes("alice"), 5_000, from);
    assert.equal(left.count, 1, "only the watcher's socket is counted");
    assert.ok(!dead.destroyed, "the old socket is still half-open on our side");
  } finally {
    dead.destroy();
    watcher.ws.close();
  }
});
