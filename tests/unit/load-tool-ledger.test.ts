/** The bench's correctness bookkeeping (bench/lib/ledger.ts) on plain data: loss, duplicates, mismatches. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { Ledger } from "../../bench/lib/ledger.ts";

function cleanRun(): Ledger {
  const ledger = new Ledger();
  const a = ledger.receiver("a", "r", 0);
  const b = ledger.receiver("b", "r", 0);
  for (let seq = 1; seq <= 5; seq++) {
    ledger.sent("r", `c${seq}`);
    ledger.acked("r", `c${seq}`, seq);
    ledger.delivered(a, seq, `c${seq}`);
    ledger.delivered(b, seq, `c${seq}`);
  }
  return ledger;
}

test("a complete run is clean and settled", () => {
  const ledger = cleanRun();
  assert.equal(ledger.settled(), true);
  assert.equal(ledger.finish(), true);
  assert.deepEqual(ledger.counts, { sent: 5, acked: 5, delivered: 10, lost: 0, duplicates: 0, mismatches: 0 });
  assert.deepEqual(ledger.problems, []);
});

test("a skipped seq is a loss named by room, seq and receiver", () => {
  const ledger = new Ledger();
  const a = ledger.receiver("a", "r", 0);
  for (const seq of [1, 2, 4]) {
    ledger.sent("r", `c${seq}`);
    ledger.acked("r", `c${seq}`, seq);
  }
  ledger.delivered(a, 1, "c1");
  ledger.delivered(a, 2, "c2");
  ledger.delivered(a, 4, "c4");
  assert.equal(ledger.finish(), false);
  assert.equal(ledger.counts.lost, 1);
  assert.deepEqual(ledger.problems.map((p) => [p.kind, p.room, p.seq, p.receiver]), [["lost", "r", 3, "a"]]);
});

test("a seq delivered twice is a duplicate", () => {
  const ledger = cleanRun();
  const late = ledger.receiver("late", "r", 4);
  ledger.delivered(late, 5, "c5");
  ledger.delivered(late, 5, "c5");
  assert.equal(ledger.finish(), false);
  assert.equal(ledger.counts.duplicates, 1);
  assert.equal(ledger.counts.lost, 0);
});

test("one clientId stored under two seqs is a duplicate, whichever arrives first", () => {
  for (const ackFirst of [true, false]) {
    const ledger = new Ledger();
    const a = ledger.receiver("a", "r", 0);
    ledger.sent("r", "c1");
    if (ackFirst) ledger.acked("r", "c1", 1);
    ledger.delivered(a, 1, "c1");
    ledger.delivered(a, 2, "c1"); // the resend stored again as seq 2
    if (!ackFirst) ledger.acked("r", "c1", 1);
    assert.equal(ledger.finish(), false, `ackFirst=${ackFirst}`);
    assert.equal(ledger.counts.duplicates, 1);
  }
});

test("a re-sent ack with the same seq is not a duplicate; one with another seq is", () => {
  const ledger = cleanRun();
  ledger.acked("r", "c3", 3);
  assert.equal(ledger.finish(), true);
  ledger.acked("r", "c3", 9);
  assert.equal(ledger.counts.duplicates, 1);
});

test("a seq delivered with another clientId than acked is a mismatch", () => {
  const ledger = new Ledger();
  const a = ledger.receiver("a", "r", 0);
  ledger.sent("r", "c1");
  ledger.acked("r", "c1", 1);
  ledger.delivered(a, 1, "other");
  assert.equal(ledger.finish(), false);
  assert.equal(ledger.counts.mismatches, 1);
});

test("unacked sends and a receiver short of the last acked seq are losses after the drain", () => {
  const ledger = cleanRun();
  ledger.sent("r", "c6");
  ledger.sent("r", "c7");
  ledger.acked("r", "c6", 6);
  assert.equal(ledger.settled(), false);
  assert.equal(ledger.finish(), false);
  // c7 never acked (1) + receivers a and b never got seq 6 (1 each).
  assert.equal(ledger.counts.lost, 3);
});

test("a detached receiver is not blamed for what it missed after leaving", () => {
  const ledger = cleanRun();
  const gone = ledger.receiver("gone", "r", 5);
  ledger.detach(gone);
  ledger.sent("r", "c6");
  ledger.acked("r", "c6", 6);
  ledger.delivered(ledger.receiver("x", "r", 5), 6, "c6");
  assert.equal(ledger.finish(), false, "a and b still miss seq 6");
  assert.equal(ledger.problems.some((p) => p.receiver === "gone"), false);
});

test("rooms are independent: the same seq in two rooms is fine", () => {
  const ledger = new Ledger();
  const a = ledger.receiver("a", "r1", 0);
  const b = ledger.receiver("b", "r2", 0);
  ledger.sent("r1", "x");
  ledger.sent("r2", "y");
  ledger.acked("r1", "x", 1);
  ledger.acked("r2", "y", 1);
  ledger.delivered(a, 1, "x");
  ledger.delivered(b, 1, "y");
  assert.equal(ledger.finish(), true);
});
