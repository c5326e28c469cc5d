/** The live bench's frame reader (bench/lib/events-reader.ts): what it reads, and that sharing a parse never mixes two frames up. */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { isEventsFrame, parse, parsedOnce } from "../../bench/lib/events-reader.ts";

const author = { id: "ops", role: "operator" };
const message = (seq: number, ts: number, sent: number | undefined) => ({ kind: "message", seq, ts, author, clientId: `m${seq}`, text: sent === undefined ? "hello" : `t=${sent}` });
const frame = (events: object[]) => Buffer.from(JSON.stringify({ type: "events", events }));

describe("the live bench's events reader", () => {
  it("reads each event's seq, send time and commit time, in order", () => {
    const parsed = parse(frame([message(7, 1_000, 998.25), message(8, 1_050, undefined), message(9, 1_100, 1_099.5)]));
    assert.deepEqual(parsed.seqs, [7, 8, 9]);
    assert.deepEqual(parsed.committed, [1_000, 1_050, 1_100]);
    assert.equal(parsed.sent[0], 998.25);
    assert.ok(Number.isNaN(parsed.sent[1]!), "an event without `t=` has no send time, not the next event's");
    assert.equal(parsed.sent[2], 1_099.5);
  });

  it("parses a frame's bytes once, however many viewers receive them", () => {
    const first = parsedOnce(frame([message(20, 1, 1), message(21, 2, 2)]));
    const again = parsedOnce(frame([message(20, 1, 1), message(21, 2, 2)])); // equal bytes, another buffer
    assert.equal(again, first);
  });

  it("never hands one frame's reading to another frame of the same length and first seq", () => {
    const a = parsedOnce(frame([message(30, 1, 1), message(31, 2, 2)]));
    const b = parsedOnce(frame([message(30, 1, 1), message(32, 2, 2)])); // same length, same first seq
    assert.notEqual(b, a);
    assert.deepEqual(b.seqs, [30, 32]);
    assert.deepEqual(parsedOnce(frame([message(30, 1, 1), message(31, 2, 2)])).seqs, [30, 31]);
  });

  it("tells events frames from every other frame", () => {
    assert.ok(isEventsFrame(frame([message(1, 1, 1)])));
    assert.ok(!isEventsFrame(Buffer.from(JSON.stringify({ type: "welcome", lastSeq: 0 }))));
    assert.ok(!isEventsFrame(Buffer.from("pong")));
  });
});
