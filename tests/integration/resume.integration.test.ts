/**
 * I5's failure branch: `recovered: false` is produced only when the epoch changed or the client is further
 * behind than the room replays, and the client handles it (reset + latest page, then live again).
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { DevServer, waitFor } from "../helpers/dev-server.ts";
import { openClient, type TestClient } from "../helpers/clients.ts";
import { rawSocket } from "../helpers/raw-socket.ts";

const RESUME_MAX = 20;
const server = new DevServer({ vars: { KAIWA_RESUME_MAX_EVENTS: RESUME_MAX } });
const opened: TestClient[] = [];
before(() => server.start());
after(async () => {
  for (const c of opened) c.room.close();
  await server.stop();
});

test("within the window a resume replays exactly the missing events", async () => {
  const room = "resume-ok";
  const writer = await openClient(server, room, "writer");
  opened.push(writer);
  for (let i = 0; i < 5; i++) await writer.room.send(`m${i}`);
  const welcome = (await rawSocket(server, room, { token: await server.token("peek"), session: "p" })).next((f) => f.type === "welcome");
  const epoch = (await welcome).epoch as string;
  for (let i = 5; i < 15; i++) await writer.room.send(`m${i}`);
  const late = await rawSocket(server, room, { token: await server.token("late"), session: "l", epoch, lastSeq: "5" });
  const hello = await late.next((f) => f.type === "welcome");
  assert.deepEqual(hello.resume, { recovered: true });
  await late.next((f) => f.type === "events" && f.events.at(-1)?.seq === 15);
  const replayed = late.frames.filter((f) => f.type === "events").flatMap((f) => f.events.map((e: any) => e.seq));
  assert.deepEqual(replayed, [6, 7, 8, 9, 10, 11, 12, 13, 14, 15]);
  late.ws.close();
});

test("too far behind: recovered false with its reason; the client resets to the latest page and goes on live", async () => {
  const room = "resume-far";
  const writer = await openClient(server, room, "writer");
  const reader = await openClient(server, room, "reader");
  opened.push(writer, reader);
  await writer.room.send("before");
  await waitFor(() => reader.observed.events.length === 1, 10_000, "reader sees seq 1");
  const position = reader.room.position!;
  reader.room.close();
  for (let i = 0; i < RESUME_MAX + 5; i++) await writer.room.send(`while away ${i}`);
  const back = await openClient(server, room, "reader", { position });
  opened.push(back);
  await waitFor(() => back.resets.length === 1, 10_000, "reset");
  assert.deepEqual(back.resumes, [{ recovered: false, reason: "too_far_behind" }]);
  assert.deepEqual(back.resets, ["too_far_behind"]);
  assert.equal(back.room.position!.lastSeq, RESUME_MAX + 6);
  const latest = await back.room.history({ limit: 5 });
  assert.equal(latest.events.at(-1)!.seq, RESUME_MAX + 6);
  await writer.room.send("after");
  await waitFor(() => back.observed.events.some((e) => e.seq === RESUME_MAX + 7), 10_000, "live again after the reset");
  assert.deepEqual(back.observed.events.map((e) => e.seq), [RESUME_MAX + 7], "nothing replayed twice, nothing skipped after the reset");
});

test("storage lost (new epoch): recovered false epoch_changed; the client resets and its next message is seq 1", async () => {
  const room = "resume-epoch";
  const alice = await openClient(server, room, "alice");
  opened.push(alice);
  await alice.room.send("old world");
  const oldEpoch = alice.room.position!.epoch;
  await server.kill();
  rmSync(server.stateDir, { recursive: true, force: true });
  await server.start();
  await waitFor(() => alice.resets.length === 1, 30_000, "reset after the epoch change");
  assert.deepEqual(alice.resumes.at(-1), { recovered: false, reason: "epoch_changed" });
  assert.notEqual(alice.room.position!.epoch, oldEpoch);
  const ack = await alice.room.send("new world");
  assert.equal(ack.seq, 1);
  await waitFor(() => alice.observed.events.at(-1)?.seq === 1 && alice.observed.events.at(-1)?.kind === "message", 10_000, "new seq 1 delivered");
});
