import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Outbox } from "../../client/outbox.ts";

function ids(): () => string {
  let i = 0;
  return () => `c${++i}`;
}

function drain(outbox: Outbox): string[] {
  const sent: string[] = [];
  for (let c = outbox.nextToSend(); c; c = outbox.nextToSend()) sent.push(`${c.clientId}#${c.n}`);
  return sent;
}

describe("Outbox", () => {
  it("assigns clientIds from the id source and increasing numbers", () => {
    const outbox = new Outbox({ maxInFlight: 10, newId: ids() });
    const a = outbox.enqueue({ type: "send", text: "a" });
    const b = outbox.enqueue({ type: "edit", target: 1, text: "b" });
    const c = outbox.enqueue({ type: "delete", target: 1 });
    assert.deepEqual([a.clientId, a.n, b.clientId, b.n, c.clientId, c.n], ["c1", 1, "c2", 2, "c3", 3]);
    assert.deepEqual(b, { type: "edit", target: 1, text: "b", clientId: "c2", n: 2 });
  });

  it("sends in order, each command once per socket", () => {
    const outbox = new Outbox({ maxInFlight: 10, newId: ids() });
    outbox.enqueue({ type: "send", text: "a" });
    outbox.enqueue({ type: "send", text: "b" });
    assert.deepEqual(drain(outbox), ["c1#1", "c2#2"]);
    assert.equal(outbox.nextToSend(), undefined, "nothing is sent twice on the same socket");
    outbox.enqueue({ type: "send", text: "c" });
    assert.deepEqual(drain(outbox), ["c3#3"]);
    assert.equal(outbox.inFlight, 3);
  });

  it("respects the in-flight window and opens it on acks", () => {
    const outbox = new Outbox({ maxInFlight: 2, newId: ids() });
    for (const text of ["a", "b", "c", "d"]) outbox.enqueue({ type: "send", text });
    assert.deepEqual(drain(outbox), ["c1#1", "c2#2"]);
    assert.equal(outbox.inFlight, 2);
    assert.equal(outbox.ack("c1")?.clientId, "c1");
    assert.deepEqual(drain(outbox), ["c3#3"]);
    outbox.ack("c2");
    outbox.ack("c3");
    assert.deepEqual(drain(outbox), ["c4#4"]);
    assert.equal(outbox.size, 1);
  });

  it("resends everything unacked in original order after a welcome, keeping numbers (PROTOCOL R5)", () => {
    const outbox = new Outbox({ maxInFlight: 10, newId: ids() });
    for (const text of ["a", "b", "c"]) outbox.enqueue({ type: "send", text });
    drain(outbox);
    outbox.ack("c2"); // acked while c1 is still unanswered: only c1 and c3 go again
    outbox.enqueue({ type: "send", text: "d" }); // queued while disconnected
    outbox.resend(1, false);
    assert.deepEqual(drain(outbox), ["c1#1", "c3#3", "c4#4"]);
  });

  it("a duplicate ack resolves the command like the original, and a second ack is unknown", () => {
    const outbox = new Outbox({ maxInFlight: 10, newId: ids() });
    outbox.enqueue({ type: "send", text: "a" });
    drain(outbox);
    outbox.resend(1, false);
    drain(outbox);
    assert.equal(outbox.ack("c1")?.n, 1); // the room's `duplicate: true` re-ack carries only the clientId
    assert.equal(outbox.ack("c1"), undefined);
    assert.equal(outbox.size, 0);
  });

  it("renumbers unacked commands from sessionLastN + 1 when the room lost the session, keeping clientIds (PROTOCOL R5)", () => {
    const outbox = new Outbox({ maxInFlight: 10, newId: ids() });
    for (const text of ["a", "b", "c", "d"]) outbox.enqueue({ type: "send", text });
    drain(outbox);
    outbox.ack("c1");
    outbox.ack("c2");
    outbox.resend(0, true);
    assert.deepEqual(drain(outbox), ["c3#1", "c4#2"]);
    assert.equal(outbox.enqueue({ type: "send", text: "e" }).n, 3);
  });

  it("numbers new commands above the room's sessionLastN", () => {
    const outbox = new Outbox({ maxInFlight: 10, newId: ids() });
    outbox.resend(41, false);
    assert.equal(outbox.enqueue({ type: "send", text: "a" }).n, 42);
  });

  it("a non-retryable error removes the command; a retryable one keeps its place", () => {
    const outbox = new Outbox({ maxInFlight: 10, newId: ids() });
    for (const text of ["a", "b", "c"]) outbox.enqueue({ type: "send", text });
    drain(outbox);
    const removed = outbox.fail("c2", false);
    assert.equal(removed.outcome, "removed");
    assert.equal(removed.outcome === "removed" && removed.command.clientId, "c2");
    assert.equal(outbox.fail("c1", true).outcome, "kept");
    assert.equal(outbox.fail("nope", false).outcome, "unknown");
    outbox.resend(0, false);
    assert.deepEqual(drain(outbox), ["c1#1", "c3#3"]);
  });

  it("drain empties the outbox and returns what was pending", () => {
    const outbox = new Outbox({ maxInFlight: 10, newId: ids() });
    outbox.enqueue({ type: "send", text: "a" });
    outbox.enqueue({ type: "send", text: "b" });
    assert.deepEqual(outbox.drain().map((c) => c.clientId), ["c1", "c2"]);
    assert.equal(outbox.size, 0);
    assert.equal(outbox.nextToSend(), undefined);
  });

  it("returns copies, so callers cannot change what is resent", () => {
    const outbox = new Outbox({ maxInFlight: 10, newId: ids() });
    const c = outbox.enqueue({ type: "send", text: "a" });
    c.n = 99;
    assert.equal(outbox.nextToSend()?.n, 1);
  });

  it("rejects a window below 1", () => {
    assert.throws(() => new Outbox({ maxInFlight: 0, newId: ids() }), RangeError);
  });
});
