/**
 * PROTOCOL I9: the archive's drain alarm is armed in the same turn as a batch's puts (one implicit
 * transaction in the runtime), before any ack leaves. Armed after the acks, a crash right after an ack
 * could lose the alarm, and the acked messages would stay out of the archive until the room's next message.
 *
 * The real room runs here (room/server.ts with every part, the commit pipeline, the archive outbox and
 * the alarm clock); only the runtime under it is faked: Durable Object storage, which records each put
 * and setAlarm with the synchronous turn it was made in, and one socket, which records its acks.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import type * as Party from "partykit/server";
import RoomServer from "../../party/room/server.ts";
import { ARCHIVE_STATE_KEY, eventKey } from "../../party/core/room-keys.ts";
import { ARCHIVE_DEFAULTS } from "../../party/config.ts";
import type { Conn } from "../../party/room/types.ts";

type Step = { what: "put" | "setAlarm" | "ack"; keys?: string[]; at?: number; turn: number };

/** Numbers each synchronous run: steps recorded before a microtask boundary share a turn. */
function turns() {
  let turn = 0;
  let open = false;
  return () => {
    if (!open) {
      open = true;
      turn++;
      queueMicrotask(() => (open = false));
    }
    return turn;
  };
}

/** In-memory Durable Object storage that confirms writes a little later, as the runtime does. */
function recordingStorage(steps: Step[], turn: () => number) {
  const data = new Map<string, unknown>();
  let alarm: number | null = null;
  const later = () => new Promise<void>((resolve) => setTimeout(resolve, 1));
  const storage = {
    async get(key: string | string[]) {
      if (Array.isArray(key)) return new Map(key.filter((k) => data.has(k)).map((k) => [k, structuredClone(data.get(k))]));
      return structuredClone(data.get(key));
    },
    put(key: string | Record<string, unknown>, value?: unknown) {
      const entries = typeof key === "string" ? { [key]: value } : key;
      steps.push({ what: "put", keys: Object.keys(entries), turn: turn() });
      for (const [k, v] of Object.entries(entries)) data.set(k, structuredClone(v));
      return later();
    },
    async delete(key: string | string[]) {
      for (const k of Array.isArray(key) ? key : [key]) data.delete(k);
      return true;
    },
    async list(options: { prefix?: string } = {}) {
      const keys = [...data.keys()].filter((k) => k.startsWith(options.prefix ?? "")).sort();
      return new Map(keys.map((k) => [k, structuredClone(data.get(k))]));
    },
    async getAlarm() {
      return alarm;
    },
    setAlarm(at: number) {
      steps.push({ what: "setAlarm", at, turn: turn() });
      alarm = at;
      return later();
    },
    async deleteAlarm() {
      alarm = null;
    },
  };
  return storage as unknown as Party.Storage;
}

test("PROTOCOL I9: a batch's archive alarm is set in the turn of its puts, before its ack", async () => {
  const steps: Step[] = [];
  const turn = turns();
  const room = {
    id: "alarm-order",
    // The archive is on (nothing connects to it here: the drain would run only when the alarm fires);
    // directory reports (answered at once below) time out soon, so no timer outlives the test.
    env: { KAIWA_DATABASE_URL: "postgres://kaiwa:secret@127.0.0.1:9/kaiwa", KAIWA_DIRECTORY_INTERVAL_MS: "1", KAIWA_DIRECTORY_TIMEOUT_MS: "50" },
    storage: recordingStorage(steps, turn),
    getConnections: () => [],
    getConnection: () => undefined,
    context: { parties: { directory: { get: () => ({ fetch: async () => new Response("{}") }) } } },
  } as unknown as Party.Room;
  const server = new RoomServer(room);
  await server.onStart();
  steps.length = 0; // the new room's meta: not part of the batch

  const conn = {
    id: "socket-1",
    state: { user: { id: "alice", name: "Alice" }, session: "s1" },
    send(data: string) {
      const frame = JSON.parse(data);
      if (frame.type === "ack") steps.push({ what: "ack", keys: frame.acks.map((a: { seq: number }) => eventKey(a.seq)), turn: turn() });
      else assert.fail(`unexpected frame ${data}`);
    },
    close() {},
    setState() {},
  } as unknown as Conn;
  const before = Date.now();
  server.onMessage(JSON.stringify({ type: "send", clientId: "c-1", n: 1, text: "hello" }), conn);
  for (let i = 0; i < 200 && !steps.some((s) => s.what === "ack"); i++) await new Promise((resolve) => setTimeout(resolve, 5));

  const ack = steps.findIndex((s) => s.what === "ack");
  assert.ok(ack >= 0, `no ack: ${JSON.stringify(steps)}`);
  assert.deepEqual(steps[ack]!.keys, [eventKey(1)], "the send was acked at seq 1");
  const eventPut = steps.findIndex((s) => s.what === "put" && s.keys!.includes(eventKey(1)));
  const alarm = steps.findIndex((s) => s.what === "setAlarm");
  assert.ok(eventPut >= 0 && eventPut < ack, `the event is put before its ack: ${JSON.stringify(steps)}`);
  assert.ok(alarm >= 0, `no alarm set: ${JSON.stringify(steps)}`);
  assert.ok(alarm < ack, `the drain alarm is set before the ack: ${JSON.stringify(steps)}`);
  assert.equal(steps[alarm]!.turn, steps[eventPut]!.turn, `the alarm and the batch's puts share one turn: ${JSON.stringify(steps)}`);
  // It is the archive's wish (drain soon after the commit), and the outbox's first state joins the same turn.
  assert.ok(steps[alarm]!.at! >= before + ARCHIVE_DEFAULTS.drainDelayMs, `alarm at ${steps[alarm]!.at}`);
  const statePut = steps.findIndex((s) => s.what === "put" && s.keys!.includes(ARCHIVE_STATE_KEY));
  assert.ok(statePut >= 0 && steps[statePut]!.turn === steps[eventPut]!.turn, `the outbox state is put with the batch: ${JSON.stringify(steps)}`);
  assert.equal(steps.filter((s) => s.what === "ack").length, 1, "one ack, nothing else answered");
});
