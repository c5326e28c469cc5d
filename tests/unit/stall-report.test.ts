/** The bench's stall report (bench/lib/stall-report.ts) on a real Ledger, with sockets and targets as plain data. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { Ledger } from "../../bench/lib/ledger.ts";
import { MAX_ROOMS_REPORTED, stallReport } from "../../bench/lib/stall-report.ts";
import type { Conn, Target } from "../../bench/targets/types.ts";

const conn = (unsent: number) => ({ unsentBytes: () => unsent }) as unknown as Conn;
const target = (describeRooms?: Target["describeRooms"]) => ({ name: "ws", describeRooms }) as unknown as Target;

/** Room "r": seqs 1-3 acked, 4 and 5 sent but never acked; receiver a has everything, b stopped at 1. */
function stalledRoom(ledger = new Ledger(), room = "r"): Ledger {
  const a = ledger.receiver(`${room}-a`, room, 0);
  const b = ledger.receiver(`${room}-b`, room, 0);
  for (let seq = 1; seq <= 5; seq++) ledger.sent(room, `${room}c${seq}`);
  for (let seq = 1; seq <= 3; seq++) {
    ledger.acked(room, `${room}c${seq}`, seq);
    ledger.delivered(a, seq, `${room}c${seq}`);
  }
  ledger.delivered(b, 1, `${room}c1`);
  return ledger;
}

test("a settled run reports nothing and does not ask the server", async () => {
  const ledger = new Ledger();
  ledger.sent("r", "c1");
  ledger.acked("r", "c1", 1);
  let asked = false;
  const report = await stallReport(target(async () => ((asked = true), { rooms: [], general: [] })), ledger, []);
  assert.deepEqual(report, []);
  assert.equal(asked, false);
});

test("a stalled room: unacked, highest acked seq, each sender's unsent bytes, receivers behind, the server's line", async () => {
  const report = await stallReport(
    target(async (rooms) => ({ rooms: rooms.map((room) => `state of ${room}`), general: ["server log: boom"] })),
    stalledRoom(),
    [{ room: "r", conn: conn(0) }, { room: "r", conn: conn(123_456) }, { room: "other", conn: conn(9) }],
  );
  assert.deepEqual(report, ["stalled r: 2 unacked; highest acked seq 3; senders' unsent bytes [0, 123456]; 1 receivers behind, at seq 1..1; server: state of r", "server log: boom"]);
});

test("past the cap, the report names how many rooms it left out", async () => {
  const ledger = new Ledger();
  for (let i = 0; i < MAX_ROOMS_REPORTED + 3; i++) stalledRoom(ledger, `room${i}`);
  const report = await stallReport(target(), ledger, []);
  assert.equal(report.length, MAX_ROOMS_REPORTED + 1);
  assert.equal(report.at(-1), "…and 3 more rooms unsettled");
  assert.match(report[0]!, /^stalled room0: 2 unacked; highest acked seq 3; senders' unsent bytes \[\]; 1 receivers behind, at seq 1\.\.1$/);
});

test("a target that throws or never answers gives a reason line, and the report still comes", async () => {
  const thrown = await stallReport(target(() => { throw new Error("no stats route"); }), stalledRoom(), []);
  assert.deepEqual(thrown.slice(1), ["server not described: Error: no stats route"]);
  const startedAt = performance.now();
  const hung = await stallReport(target(() => new Promise(() => {})), stalledRoom(), [], 200);
  assert.ok(performance.now() - startedAt < 1_000, "gave up after the time allowed");
  assert.deepEqual(hung.slice(1), ["server not described: Error: no answer within 0.2 s"]);
  assert.match(hung[0]!, /^stalled r: 2 unacked; /);
});
