import { test } from "node:test";
import assert from "node:assert/strict";
import { CommitPipeline } from "../../party/core/commit-pipeline.ts";

/** A hand-driven port: timers and writes resolve only when the test says so; `throwOn` makes that release throw. */
function harness(windowMs = 2, maxItems = 100, throwOn?: string) {
  const log: string[] = [];
  const timers: Array<() => void> = [];
  const writes: Array<{ writes: Map<string, unknown>; resolve: () => void; reject: (e: unknown) => void }> = [];
  const pipeline = new CommitPipeline<string>(
    {
      persist: (w) =>
        new Promise<void>((resolve, reject) => {
          log.push(`persist:${[...w.keys()].join(",")}`);
          writes.push({ writes: w, resolve, reject });
        }),
      schedule: (fn) => void timers.push(fn),
      committed: (items) => {
        log.push(`committed:${items.join(",")}`);
        if (throwOn !== undefined && items.includes(throwOn)) throw new Error(`release of ${throwOn} broke`);
      },
      failed: (items) => log.push(`failed:${items.join(",")}`),
      releaseFailed: (items, error) => log.push(`releaseFailed:${items.join(",")}:${(error as Error).message}`),
    },
    windowMs,
    maxItems,
  );
  const tick = async () => {
    for (const fn of timers.splice(0)) fn();
    await new Promise((r) => setImmediate(r));
  };
  return { pipeline, log, writes, tick };
}

test("PROTOCOL I2: nothing is committed (acked, broadcast) before the write resolves", async () => {
  const { pipeline, log, writes, tick } = harness();
  pipeline.add("a", [["m:1", 1]]);
  pipeline.add("b", [["m:2", 2]]);
  await tick();
  assert.deepEqual(log, ["persist:m:1,m:2"]);
  await new Promise((r) => setTimeout(r, 20));
  assert.deepEqual(log, ["persist:m:1,m:2"], "still waiting on the write: no commit");
  writes[0]!.resolve();
  await tick();
  assert.deepEqual(log, ["persist:m:1,m:2", "committed:a,b"]);
});

test("commands collected in one window become one write; later writes to a key win (PROTOCOL R2)", async () => {
  const { pipeline, writes, tick } = harness();
  for (let i = 1; i <= 50; i++) pipeline.add(`c${i}`, [[`m:${i}`, i], ["meta", i]]);
  await tick();
  assert.equal(writes.length, 1);
  assert.equal(writes[0]!.writes.size, 51);
  assert.equal(writes[0]!.writes.get("meta"), 50);
  assert.equal(pipeline.counters.flushes, 1);
});

test("one write in flight: the next batch waits, then flushes right after the first commits (PROTOCOL R2)", async () => {
  const { pipeline, log, writes, tick } = harness();
  pipeline.add("a", [["k1", 1]]);
  await tick();
  pipeline.add("b", [["k2", 2]]);
  await tick();
  assert.equal(writes.length, 1, "second batch must wait for the first write");
  writes[0]!.resolve();
  await tick();
  assert.equal(writes.length, 2);
  writes[1]!.resolve();
  await tick();
  assert.deepEqual(log, ["persist:k1", "committed:a", "persist:k2", "committed:b"]);
});

test("a failed write fails its batch and everything sequenced after it (PROTOCOL R3)", async () => {
  const { pipeline, log, writes, tick } = harness();
  pipeline.add("a", [["k1", 1]]);
  await tick();
  pipeline.add("b", [["k2", 2]]);
  writes[0]!.reject(new Error("disk full"));
  await tick();
  assert.deepEqual(log, ["persist:k1", "failed:a,b"]);
  assert.equal(pipeline.busy, false);
});

test("a write that throws synchronously (value over 128 KiB) is surfaced, not lost in the timer", async () => {
  const failed: string[] = [];
  const timers: Array<() => void> = [];
  const pipeline = new CommitPipeline<string>(
    {
      persist: () => {
        throw new RangeError("value too large");
      },
      schedule: (fn) => void timers.push(fn),
      committed: () => assert.fail("must not commit"),
      failed: (items, error) => failed.push(`${items.join(",")}:${(error as Error).message}`),
      releaseFailed: () => assert.fail("nothing was released"),
    },
    2,
    10,
  );
  pipeline.add("big", [["m:1", "x"]]);
  timers.shift()!();
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(failed, ["big:value too large"]);
});

test("a full batch flushes without waiting for the window", async () => {
  const { pipeline, writes } = harness(2, 3);
  pipeline.add("a", [["k1", 1]]);
  pipeline.add("b", [["k2", 1]]);
  assert.equal(writes.length, 0);
  pipeline.add("c", [["k3", 1]]);
  assert.equal(writes.length, 1);
});

test("a release that throws is reported, and what collected behind it is still written and released (PROTOCOL R3a)", async () => {
  const { pipeline, log, writes, tick } = harness(2, 100, "a");
  pipeline.add("a", [["k1", 1]]);
  await tick();
  pipeline.add("b", [["k2", 2]]); // collects while a's write is in flight; no command comes after it
  pipeline.add("c", [["k3", 3]]);
  writes[0]!.resolve();
  await tick();
  assert.deepEqual(log, ["persist:k1", "committed:a", "releaseFailed:a:release of a broke", "persist:k2,k3"], "b and c are written without waiting for another command");
  writes[1]!.resolve();
  await tick();
  assert.deepEqual(log.slice(4), ["committed:b,c"]);
  assert.equal(pipeline.busy, false);
});

test("idle() waits for the write in flight and what collected behind it, and for a failure", async () => {
  const { pipeline, writes, tick } = harness();
  let idle = false;
  await pipeline.idle(); // nothing queued: resolves at once
  pipeline.add("a", [["k1", 1]]);
  await tick();
  pipeline.add("b", [["k2", 2]]);
  void pipeline.idle().then(() => (idle = true));
  writes[0]!.resolve();
  await tick();
  assert.equal(idle, false, "b is still being written");
  writes[1]!.resolve();
  await tick();
  assert.equal(idle, true);

  let idleAfterFailure = false;
  pipeline.add("c", [["k3", 3]]);
  await tick();
  void pipeline.idle().then(() => (idleAfterFailure = true));
  writes[2]!.reject(new Error("disk"));
  await tick();
  assert.equal(idleAfterFailure, true);
});

test("PROTOCOL R3b: abandon() fails a write that never settled and everything behind it; its late outcome is ignored", async () => {
  const { pipeline, log, writes, tick } = harness();
  assert.equal(pipeline.abandon(new Error("nothing in flight")), false, "nothing to give up when idle");
  pipeline.add("a", [["m:1", 1]]);
  await tick();
  pipeline.add("b", [["m:2", 2]]);
  assert.equal(pipeline.abandon(new Error("stalled")), true);
  assert.deepEqual(log, ["persist:m:1", "failed:a,b"]);
  writes[0]!.resolve(); // the write settles after all: nothing more happens
  await tick();
  assert.deepEqual(log, ["persist:m:1", "failed:a,b"]);
  await pipeline.idle();
  pipeline.add("c", [["m:1", 3]]);
  await tick();
  writes[1]!.resolve();
  await tick();
  assert.deepEqual(log.slice(2), ["persist:m:1", "committed:c"], "the pipeline goes on after a stall");
});
