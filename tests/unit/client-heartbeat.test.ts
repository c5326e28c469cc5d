import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Heartbeat } from "../../client/heartbeat.ts";
import type { Schedule } from "../../client/timers.ts";

/** A fake clock: timers run when `advance` passes their due time. */
function fakeClock() {
  let now = 0;
  let timers: { at: number; fn: () => void; live: boolean }[] = [];
  const schedule: Schedule = (fn, ms) => {
    const timer = { at: now + ms, fn, live: true };
    timers.push(timer);
    return { cancel: () => void (timer.live = false) };
  };
  const advance = (ms: number) => {
    const end = now + ms;
    for (;;) {
      const next = timers.filter((t) => t.live && t.at <= end).sort((a, b) => a.at - b.at)[0];
      if (!next) break;
      now = next.at;
      next.live = false;
      next.fn();
    }
    now = end;
    timers = timers.filter((t) => t.live);
  };
  return { schedule, advance, now: () => now };
}

describe("Heartbeat", () => {
  it("pings after intervalMs of silence and times out after timeoutMs more (PROTOCOL R12)", () => {
    const clock = fakeClock();
    const log: string[] = [];
    const hb = new Heartbeat({ intervalMs: 100, timeoutMs: 30, schedule: clock.schedule, now: clock.now, sendPing: () => log.push("ping"), onTimeout: () => log.push("timeout") });
    hb.touch();
    clock.advance(99);
    assert.deepEqual(log, []);
    clock.advance(1);
    assert.deepEqual(log, ["ping"]);
    clock.advance(29);
    assert.deepEqual(log, ["ping"]);
    clock.advance(1);
    assert.deepEqual(log, ["ping", "timeout"]);
  });

  it("any traffic (the pong included) resets the wait", () => {
    const clock = fakeClock();
    const log: string[] = [];
    const hb = new Heartbeat({ intervalMs: 100, timeoutMs: 30, schedule: clock.schedule, now: clock.now, sendPing: () => log.push("ping"), onTimeout: () => log.push("timeout") });
    hb.touch();
    clock.advance(100);
    clock.advance(10);
    hb.touch(); // pong
    clock.advance(99);
    assert.deepEqual(log, ["ping"]);
    clock.advance(1);
    assert.deepEqual(log, ["ping", "ping"]);
    hb.stop();
    clock.advance(1000);
    assert.deepEqual(log, ["ping", "ping"], "stop cancels the pending timeout");
  });

  it("a client that only receives, all the time, still pings at least every two intervals (PROTOCOL R80)", () => {
    const clock = fakeClock();
    const log: number[] = [];
    const hb = new Heartbeat({ intervalMs: 100, timeoutMs: 30, schedule: clock.schedule, now: clock.now, sendPing: () => log.push(clock.now()), onTimeout: () => assert.fail("no timeout while frames arrive") });
    hb.touch();
    // A frame arrives every 10 ms for 1 s: the silence ping never fires, the keepalive does.
    for (let t = 10; t <= 1000; t += 10) {
      clock.advance(10);
      hb.touch();
    }
    assert.ok(log.length >= 5, `pinged ${log.length} times in 1 s`);
    const gaps = log.map((at, i) => at - (i === 0 ? 0 : log[i - 1]!));
    assert.ok(gaps.every((gap) => gap <= 200), `gaps between pings: ${gaps}`);
    hb.stop();
    clock.advance(1000);
    assert.equal(log.length, gaps.length, "stop ends the keepalive too");
  });

  it("a client that sends needs no keepalive ping, and a quiet socket's silence ping counts as sent", () => {
    const clock = fakeClock();
    const log: string[] = [];
    const hb = new Heartbeat({ intervalMs: 100, timeoutMs: 30, schedule: clock.schedule, now: clock.now, sendPing: () => log.push("ping"), onTimeout: () => log.push("timeout") });
    hb.touch();
    for (let t = 0; t < 10; t++) {
      clock.advance(50);
      hb.sent();
      hb.touch(); // its ack
    }
    assert.deepEqual(log, [], "sending and receiving: no ping at all");
    // Quiet from here: one silence ping per interval (each answered), no extra keepalive ping between them.
    for (let t = 0; t < 5; t++) {
      clock.advance(100);
      clock.advance(1);
      hb.touch(); // pong
    }
    assert.deepEqual([...log], ["ping", "ping", "ping", "ping", "ping"], "one ping per interval when quiet, no keepalive ping between them, no timeout");
  });
});
