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
  return { schedule, advance };
}

describe("Heartbeat", () => {
  it("pings after intervalMs of silence and times out after timeoutMs more (PROTOCOL R12)", () => {
    const clock = fakeClock();
    const log: string[] = [];
    const hb = new Heartbeat({ intervalMs: 100, timeoutMs: 30, schedule: clock.schedule, sendPing: () => log.push("ping"), onTimeout: () => log.push("timeout") });
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
    const hb = new Heartbeat({ intervalMs: 100, timeoutMs: 30, schedule: clock.schedule, sendPing: () => log.push("ping"), onTimeout: () => log.push("timeout") });
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
});
