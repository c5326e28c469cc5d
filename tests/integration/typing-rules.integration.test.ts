/**
 * Issue 5: typing is not shown for members who may not post. A muted user's typing signal and a member's
 * signal in an operators-only room get typed errors, and the watcher never sees them typing; a member who
 * may post does show.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { DevServer } from "../helpers/dev-server.ts";
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

test("muted users and non-posters never show as typing; posters do (PROTOCOL R15)", async () => {
  const room = "typing-rules";
  const ops = await server.token("ops", { operator: true });
  const watcher = await join(room, "wendy");
  const muted = await join(room, "mallory");
  const poster = await join(room, "paula");
  const operator = await rawSocket(server, room, { token: ops, session: "ops-1" });
  await operator.next((f) => f.type === "welcome");
  const typingFrames = () => watcher.frames.filter((f) => f.type === "typing");
  const moderate = await server.fetchJson(`/admin/rooms/${room}/moderate`, { method: "POST", token: ops, headers: { "content-type": "application/json" }, body: JSON.stringify({ user: "mallory", action: "mute", durationMs: 60_000 }) });
  assert.equal(moderate.status, 200, JSON.stringify(moderate.body));
  muted.send({ type: "typing" });
  assert.equal((await muted.next((f) => f.type === "error")).code, "muted");
  // mallory's signal was refused before paula's: had it counted, the list paula shows in would name her too
  // (typing lasts 5 s; frames carry the whole list).
  poster.send({ type: "typing" });
  const shown = await watcher.next((f) => f.type === "typing" && f.users.includes("paula"));
  assert.deepEqual(shown.users, ["paula"], "paula alone: the muted mallory is not in the list");
  // paula's entry expires by itself (5 s): from then on, a frame naming her can only come from a new signal.
  await watcher.next((f) => f.type === "typing" && !f.users.includes("paula"), 15_000, watcher.frames.indexOf(shown) + 1);

  const settings = await server.fetchJson(`/parties/room/${room}/settings`, { method: "PATCH", token: ops, body: JSON.stringify({ whoMayPost: "operators" }) });
  assert.equal(settings.status, 200);
  const mark = watcher.frames.length;
  const from = poster.frames.length;
  poster.send({ type: "typing" });
  assert.equal((await poster.next((f) => f.type === "error", 10_000, from)).code, "forbidden");
  const mutedFrom = muted.frames.length;
  muted.send({ type: "typing" });
  assert.ok(["forbidden", "muted"].includes((await muted.next((f) => f.type === "error", 10_000, mutedFrom)).code));
  // The positive marker instead of a sleep: both refusals were answered before the operator types, so had
  // either signal counted, it would be in the operator's frame (or an earlier one), still within its 5 s.
  operator.send({ type: "typing" });
  const marker = await watcher.next((f) => f.type === "typing" && f.users.includes("ops"), 10_000, mark);
  assert.deepEqual(marker.users, ["ops"], "only the operator types in an operators-only room");
  const after = watcher.frames.slice(mark, watcher.frames.indexOf(marker) + 1).filter((f) => f.type === "typing");
  assert.deepEqual(after.flatMap((f) => f.users).filter((u: string) => u !== "ops"), [], "nobody but the operator showed after the switch");
  const everShown = typingFrames().flatMap((f) => f.users);
  assert.equal(everShown.includes("mallory"), false, "the muted user never showed as typing");
  for (const s of [watcher, muted, poster, operator]) s.ws.close();
});

test("in a live room only its hosts and operators show as typing; its viewers get forbidden (PROTOCOL R15)", async () => {
  const room = "live:typing-rules";
  const ops = await server.token("ops", { operator: true });
  const settings = await server.fetchJson(`/parties/room/${room}/settings`, { method: "PATCH", token: ops, body: JSON.stringify({ hosts: ["hana"] }) });
  assert.equal(settings.status, 200, JSON.stringify(settings.body));
  const watcher = await join(room, "wendy");
  const viewer = await join(room, "vic");
  const host = await join(room, "hana");
  const mark = watcher.frames.length;
  viewer.send({ type: "typing" });
  assert.equal((await viewer.next((f) => f.type === "error")).code, "forbidden");
  // The marker: vic's refusal was answered before hana types, so had it counted, hana's frame would name vic too.
  host.send({ type: "typing" });
  const shown = await watcher.next((f) => f.type === "typing" && f.users.includes("hana"), 10_000, mark);
  assert.deepEqual(shown.users, ["hana"], "the host alone: a viewer never shows as typing");
  for (const socket of [watcher, viewer, host]) socket.ws.close();
});
