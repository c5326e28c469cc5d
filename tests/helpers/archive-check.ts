/**
 * Checks shared by the archive tests: drive a room with a raw socket (messages, edits, deletions), read
 * the room log back over HTTP, and compare it with the archive row for row, every column (PROTOCOL I9).
 */
import assert from "node:assert/strict";
import type { DevServer } from "./dev-server.ts";
import { waitFor } from "./dev-server.ts";
import { rawSocket } from "./raw-socket.ts";
import type { ArchiveDb } from "./archive-db.ts";

export type Drive = { sends: number; edits: number; deletes: number; text?: (i: number) => string };
export type Driven = { acks: Map<string, number>; lastSeq: number };

/**
 * Sends `sends` messages all in flight, then edits and deletes some of them (distinct targets), and waits
 * for every ack. Every command gets exactly one ack, at a distinct seq.
 */
export async function driveRoom(server: DevServer, room: string, user: string, plan: Drive): Promise<Driven> {
  const socket = await rawSocket(server, room, { token: await server.token(user), session: `s-${user}` });
  const welcome = await socket.next((f) => f.type === "welcome", 30_000);
  let n = welcome.sessionLastN;
  const acks = new Map<string, number>();
  const pending = new Set<string>();
  socket.ws.on("message", (data) => {
    const frame = JSON.parse(data.toString());
    if (frame.type === "ack") for (const ack of frame.acks) (acks.set(ack.clientId, ack.seq), pending.delete(ack.clientId));
    if (frame.type === "error") throw new Error(`${room}: refused ${JSON.stringify(frame)}`);
  });
  const send = (frame: Record<string, unknown>) => {
    const clientId = `${user}-${++n}`;
    pending.add(clientId);
    socket.send({ ...frame, clientId, n });
    return clientId;
  };
  const sent = Array.from({ length: plan.sends }, (_, i) => send({ type: "send", text: plan.text?.(i) ?? `${room} ${user} message ${i}` }));
  await waitFor(() => pending.size === 0, 120_000, `${room}: acks for ${plan.sends} sends`);
  const targets = sent.map((clientId) => acks.get(clientId)!);
  for (let i = 0; i < plan.edits; i++) send({ type: "edit", target: targets[i * 2]!, text: `${room} edited ${i}` });
  for (let i = 0; i < plan.deletes; i++) send({ type: "delete", target: targets[i * 2 + 1]! });
  await waitFor(() => pending.size === 0, 120_000, `${room}: acks for edits and deletes`);
  socket.ws.close();
  const seqs = [...acks.values()];
  assert.equal(new Set(seqs).size, seqs.length, `${room}: two commands acked at one seq`);
  return { acks, lastSeq: Math.max(...seqs) };
}

/** The room's log as it stores it (messages in their latest state), seq 1..lastSeq, over the HTTP history route. */
export async function readRoomLog(server: DevServer, room: string, user: string): Promise<any[]> {
  const token = await server.token(user);
  const events: any[] = [];
  let before: number | undefined;
  for (;;) {
    const query = `limit=200${before ? `&before=${before}` : ""}`;
    const { status, body } = await server.fetchJson(`/parties/room/${room}/history?${query}`, { token });
    assert.equal(status, 200, `${room}: history ${JSON.stringify(body)}`);
    events.unshift(...body.events);
    if (!body.hasMore) break;
    before = body.events[0].seq;
  }
  events.forEach((event, i) => assert.equal(event.seq, i + 1, `${room}: history has seq ${event.seq} at position ${i}`));
  return events;
}

export async function archiveStats(server: DevServer, room: string): Promise<any> {
  const { status, body } = await server.fetchJson(`/parties/room/${room}/stats`, { token: await server.token("ops", { operator: true }) });
  assert.equal(status, 200, `${room}: stats ${JSON.stringify(body)}`);
  return body.archive;
}

export async function waitDrained(server: DevServer, room: string, timeoutMs = 120_000): Promise<any> {
  let stats: any;
  await waitFor(async () => {
    stats = await archiveStats(server, room);
    return stats.lag === 0 && stats.cursor > 0 && !stats.failing;
  }, timeoutMs, `${room}: archive lag 0 and the drain healthy`);
  return stats;
}

/** PROTOCOL I9: the archive holds exactly the room's events, each row equal to the room's record in every column. */
export async function assertArchiveEqualsLog(db: ArchiveDb, room: string, log: any[]): Promise<void> {
  const rows = await db.query(
    `SELECT room_id, seq::int AS seq, kind, ts::float8 AS ts, author_id, author_name, client_id, target::int AS target, body,
            edited_by::int AS edited_by, deleted_by::int AS deleted_by, payload::text AS payload
     FROM archive_events WHERE room_id = $1 ORDER BY seq`,
    [room],
  );
  assert.equal(rows.length, log.length, `${room}: archive has ${rows.length} rows, the room ${log.length} events`);
  rows.forEach((row, i) => {
    const event = log[i];
    const expected = {
      room_id: room,
      seq: event.seq,
      kind: event.kind,
      ts: event.ts,
      author_id: event.author.id,
      author_name: event.author.name,
      client_id: event.clientId,
      target: event.target ?? null,
      body: event.text ?? null,
      edited_by: event.editedBy ?? null,
      deleted_by: event.deletedBy ?? null,
      payload: event,
    };
    assert.deepStrictEqual({ ...row, payload: JSON.parse(row.payload) }, expected, `${room}: row ${event.seq} differs from the room log`);
  });
}

/** One user's socket in a room, for tests that write specific messages: each call waits for its durable ack. */
export async function openWriter(server: DevServer, room: string, user: string) {
  const socket = await rawSocket(server, room, { token: await server.token(user, { name: user.toUpperCase() }), session: `w-${user}` });
  let n = (await socket.next((f) => f.type === "welcome", 30_000)).sessionLastN;
  const command = async (frame: Record<string, unknown>): Promise<{ seq: number; ts: number }> => {
    const clientId = `${user}-w${++n}`;
    const from = socket.frames.length;
    socket.send({ ...frame, clientId, n });
    const reply = await socket.next((f) => (f.type === "ack" && f.acks.some((a: any) => a.clientId === clientId)) || (f.type === "error" && f.ref === clientId), 30_000, from);
    if (reply.type === "error") throw new Error(`${room}: ${reply.code} ${reply.message}`);
    return reply.acks.find((a: any) => a.clientId === clientId);
  };
  return {
    socket,
    send: (text: string) => command({ type: "send", text }),
    edit: (target: number, text: string) => command({ type: "edit", target, text }),
    delete: (target: number) => command({ type: "delete", target }),
    close: () => socket.ws.close(),
  };
}
