/**
 * Issue 5: typing is not shown for members who may not post. A muted user's typing signal and a member's
 * signal in an operators-only room get typed errors, and the watcher never sees them typing; a member who
 * may post does show.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { DevServer, sleep } from "../helpers/dev-server.ts";
import { rawSocket } from "../helpers/raw-socket.ts";

const server = new DevServer();
before(async () => {
  await server.start();
});
after(async () => {
  await server.stop();
});

async function join(room: string, user: string) {
  const socket = await rawSocket(server, room, { token: await server.token(user), session: `${user}-1` });
  await socket.next((f) => f.type === "welcome");
  return socket;
}

test("muted users and non-posters never show as typing; posters do", async () => {
  const room = "typing-rules";
  const ops = await server.token("ops", { operator: true });
  const watcher = await join(room, "wendy");
  const muted = await join(room, "mallory");
  const poster = await join(room, "paula");
  const moderate = await server.fetchJson(`/admin/rooms/${room}/moderate`, { method: "POST", token: ops, headers: { "content-type": "application/json" }, body: JSON.stringify({ user: "mallory", action: "mute", durationMs: 60_000 }) });
  assert.equal(moderate.status, 200, JSON.stringify(moderate.body));
  muted.send({ type: "typing" });
  assert.equal((await muted.next((f) => f.type === "error")).code, "muted");
  poster.send({ type: "typing" });
  await watcher.next((f) => f.type === "typing" && f.users.includes("paula"));

  const settings = await server.fetchJson(`/parties/room/${room}/settings`, { method: "PATCH", token: ops, body: JSON.stringify({ whoMayPost: "operators" }) });
  assert.equal(settings.status, 200);
  const from = poster.frames.length;
  poster.send({ type: "typing" });
  assert.equal((await poster.next((f) => f.type === "error", 10_000, from)).code, "forbidden");
  await sleep(600);
  const everShown = watcher.frames.filter((f) => f.type === "typing").flatMap((f) => f.users);
  assert.equal(everShown.includes("mallory"), false, "the muted user never showed as typing");
  for (const s of [watcher, muted, poster]) s.ws.close();
});
