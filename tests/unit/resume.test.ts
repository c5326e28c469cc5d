import { test } from "node:test";
import assert from "node:assert/strict";
import { decideResume, historyRange } from "../../party/core/resume.ts";

const room = { epoch: "E1", committedSeq: 100, resumeMaxEvents: 50 };

test("PROTOCOL I5, R6: same epoch within the window recovers", () => {
  assert.deepEqual(decideResume(room, { epoch: "E1", lastSeq: 60 }), { recovered: true });
  assert.deepEqual(decideResume(room, { epoch: "E1", lastSeq: 100 }), { recovered: true });
  assert.deepEqual(decideResume(room, { epoch: "E1", lastSeq: 50 }), { recovered: true });
});

test("PROTOCOL I5, R6: a different epoch, a gap over the window, or a position ahead of the room does not", () => {
  assert.deepEqual(decideResume(room, { epoch: "E0", lastSeq: 99 }), { recovered: false, reason: "epoch_changed" });
  assert.deepEqual(decideResume(room, { epoch: "E1", lastSeq: 49 }), { recovered: false, reason: "too_far_behind" });
  assert.deepEqual(decideResume(room, { epoch: "E1", lastSeq: 101 }), { recovered: false, reason: "ahead_of_room" });
});

test("history pages by seq: newest page, then before= (PROTOCOL R9)", () => {
  assert.deepEqual(historyRange(100, undefined, 30), { from: 71, before: 101 });
  assert.deepEqual(historyRange(100, 71, 30), { from: 41, before: 71 });
  assert.deepEqual(historyRange(100, 11, 30), { from: 1, before: 11 });
  assert.deepEqual(historyRange(100, 500, 10), { from: 91, before: 101 }, "never past the durable end (PROTOCOL I2)");
  assert.deepEqual(historyRange(0, undefined, 10), { from: 1, before: 1 });
});
