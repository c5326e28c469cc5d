/**
 * PROTOCOL I5's failure branch: `recovered: false` is produced only when the epoch changed or the client is further
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

/** Sends and records the durable ack: seq → clientId, the truth replayed events are checked against. */
async function sendAcked(client: TestClient, text: string, acked: Map<number, string>): Promise<void> {
  const ack = await client.room.send(text);
  assert.equal(acked.has(ack.seq), false, `two acks at seq ${ack.seq}`);
  acked.set(ack.seq, ack.clientId);
}

/** Events are exactly `seqs`, in order, each carrying the clientId acked at its seq (by `author`), none twice. */
function assertEventsMatchAcks(events: Array<{ seq: number; clientId: string; author: { id: string } }>, seqs: number[], acked: Map<number, string>, author: string, label: string): void {
  assert.deepEqual(events.map((e) => e.seq), seqs, `${label}: seqs`);
  assert.deepEqual(events.map((e) => [e.seq, e.author.id, e.clientId]), seqs.map((seq) => [seq, author, acked.get(seq)]), `${label}: clientIds by seq`);
  assert.equal(new Set(events.map((e) => e.clientId)).size, events.length, `${label}: a clientId twice`);
}

test("within the window a resume replays exactly the missing events (PROTOCOL R6)", async () => {
  const room = "resume-ok";
  const writer = await openClient(server, room, "writer");
  opened.push(writer);
  const acked = new Map<number, string>();
  for (let i = 0; i < 5; i++) await sendAcked(writer, `m${i}`, acked);
  const welcome = (await rawSocket(server, room, { token: await server.token("peek"), session: "p" })).next((f) => f.type === "welcome");
  const epoch = (await welcome).epoch as string;
  for (let i = 5; i < 15; i++) await sendAcked(writer, `m${i}`, acked);
  const late = await rawSocket(server, room, { token: await server.token("late"), session: "l", epoch, lastSeq: "5" });
  const hello = await late.next((f) => f.type === "welcome");
  assert.deepEqual(hello.resume, { recovered: true });
  await late.next((f) => f.type === "events" && f.events.at(-1)?.seq === 15);
  const replayed = late.frames.filter((f) => f.type === "events").flatMap((f) => f.events);
  assert.deepEqual(replayed.map((e: any) => e.seq), [6, 7, 8, 9, 10, 11, 12, 13, 14, 15]);
  assertEventsMatchAcks(replayed, [6, 7, 8, 9, 10, 11, 12, 13, 14, 15], acked, "writer", "replay");
  late.ws.close();
});

test("too far behind: recovered false with its reason; the client resets to the latest page and goes on live (PROTOCOL R6)", async () => {
  const room = "resume-far";
  const writer = await openClient(server, room, "writer");
  const reader = await openClient(server, room, "reader");
  opened.push(writer, reader);
  const acked = new Map<number, string>();
  await sendAcked(writer, "before", acked);
  await waitFor(() => reader.observed.events.length === 1, 10_000, "reader sees seq 1");
  assertEventsMatchAcks(reader.observed.events as any, [1], acked, "writer", "reader before leaving");
  const position = reader.room.position!;
  reader.room.close();
  for (let i = 0; i < RESUME_MAX + 5; i++) await sendAcked(writer, `while away ${i}`, acked);
  const back = await openClient(server, room, "reader", { position });
  opened.push(back);
  await waitFor(() => back.resets.length === 1, 10_000, "reset");
  assert.deepEqual(back.resumes, [{ recovered: false, reason: "too_far_behind" }]);
  assert.deepEqual(back.resets, ["too_far_behind"]);
  assert.equal(back.room.position!.lastSeq, RESUME_MAX + 6);
  const latest = await back.room.history({ limit: 5 });
  assert.equal(latest.events.at(-1)!.seq, RESUME_MAX + 6);
  assertEventsMatchAcks(latest.events as any, Array.from({ length: 5 }, (_, i) => RESUME_MAX + 2 + i), acked, "writer", "the latest page");
  await sendAcked(writer, "after", acked);
  await waitFor(() => back.observed.events.some((e) => e.seq === RESUME_MAX + 7), 10_000, "live again after the reset");
  assert.deepEqual(back.observed.events.map((e) => e.seq), [RESUME_MAX + 7], "nothing replayed twice, nothing skipped after the reset");
  assertEventsMatchAcks(back.observed.events as any, [RESUME_MAX + 7], acked, "writer", "live after the reset");
});

test("storage lost (new epoch): recovered false epoch_changed; the client resets and its next message is seq 1 (PROTOCOL R6)", async () => {
  const room = "resume-epoch";
  const alice = await openClient(server, room, "alice");
  opened.push(alice);
  const oldAck = await alice.room.send("old world");
  await waitFor(() => alice.observed.events.length === 1, 10_000, "old seq 1 delivered");
  assert.deepEqual(alice.observed.events.map((e) => [e.seq, e.clientId]), [[1, oldAck.clientId]]);
  const oldEpoch = alice.room.position!.epoch;
  await server.kill();
  rmSync(server.stateDir, { recursive: true, force: true });
  await server.start();
  await waitFor(() => alice.resets.length === 1, 30_000, "reset after the epoch change");
  assert.deepEqual(alice.resumes.at(-1), { recovered: false, reason: "epoch_changed" });
  assert.notEqual(alice.room.position!.epoch, oldEpoch);
  const ack = await alice.room.send("new world");
  assert.equal(ack.seq, 1);
  assert.notEqual(ack.clientId, oldAck.clientId, "a new command, not the old one resent");
  // The old epoch's seq 1 is still in the log the client observed: wait for the new command's own event.
  await waitFor(() => alice.observed.events.at(-1)?.clientId === ack.clientId, 10_000, "new seq 1 delivered");
  const last = alice.observed.events.at(-1)!;
  assert.deepEqual([last.seq, last.author.id, last.clientId, last.kind === "message" && last.text], [1, "alice", ack.clientId, "new world"], "seq 1 of the new epoch is the acked new message");
  assert.equal(alice.observed.events.filter((e) => e.clientId === ack.clientId).length, 1, "delivered once");
});

test("PROTOCOL R7: live events that commit while a socket's replay is under way reach it after the replay, once, in order", async () => {
  const room = "resume-during-live";
  const writer = await openClient(server, room, "writer");
  opened.push(writer);
  const acked = new Map<number, string>();
  for (let i = 0; i < 5; i++) await sendAcked(writer, `old${i}`, acked);
  const epoch = writer.room.position!.epoch;
  // The late socket asks for everything from seq 0 in the same tick as a burst leaves the writer (one batch
  // frame): the burst commits before, during or after the late socket's join, and whatever is released
  // during the join must wait behind the replay. At most 19 events exist, within the replay window of 20.
  const live = Array.from({ length: 14 }, (_, i) => sendAcked(writer, `live${i}`, acked));
  const late = await rawSocket(server, room, { token: await server.token("late2"), session: "l2", epoch, lastSeq: "0" });
  await Promise.all(live);
  const last = 5 + 14;
  await late.next((f) => f.type === "events" && f.events.some((e: any) => e.seq === last));
  assert.equal(late.frames[0].type, "welcome", "the welcome comes first");
  assert.deepEqual(late.frames[0].resume, { recovered: true });
  const eventFrames = late.frames.filter((f) => f.type === "events");
  const firstLive = eventFrames.findIndex((f) => !f.replay);
  assert.ok(eventFrames.slice(firstLive === -1 ? eventFrames.length : firstLive).every((f) => !f.replay), "no replay frame after a live one");
  const seen = eventFrames.flatMap((f) => f.events);
  assertEventsMatchAcks(seen, Array.from({ length: last }, (_, i) => i + 1), acked, "writer", "replay then live");
  late.ws.close();
});
