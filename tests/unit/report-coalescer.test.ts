import { test } from "node:test";
import assert from "node:assert/strict";
import { ReportCoalescer } from "../../party/core/report-coalescer.ts";

/** A fake clock and timer queue: time moves only when the test says so. */
function harness(sendImpl: (s: { n: number }) => Promise<void>, followUp?: (s: { n: number }) => boolean, startedAgoMs = 1000, snapshotFails = () => false) {
  // The coalescer is created `startedAgoMs` before the test's time 0 (by default a full interval ago).
  let now = -startedAgoMs;
  let timers: Array<{ at: number; fn: () => void }> = [];
  const state = { n: 0 };
  const sent: number[] = [];
  const coalescer = new ReportCoalescer<{ n: number }>(
    {
      snapshot: () => {
        if (snapshotFails()) throw new Error("the room's id is not readable now");
        return { n: state.n };
      },
      send: (s) => {
        sent.push(s.n);
        return sendImpl(s);
      },
      schedule: (fn, ms) => void timers.push({ at: now + ms, fn }),
      now: () => now,
      ...(followUp ? { followUp } : {}),
    },
    1000,
    5000,
  );
  now = 0;
  const advance = async (ms: number) => {
    const until = now + ms;
    for (;;) {
      timers.sort((a, b) => a.at - b.at);
      const next = timers[0];
      if (!next || next.at > until) break;
      timers = timers.slice(1);
      now = next.at;
      next.fn();
      await new Promise((resolve) => setImmediate(resolve));
    }
    now = until;
  };
  return { coalescer, state, sent, advance };
}

test("many touches make at most one report per interval; the first comes one interval after the start", async () => {
  const { coalescer, state, sent, advance } = harness(async () => undefined, undefined, 0);
  for (let i = 1; i <= 100; i++) {
    state.n = i;
    coalescer.touch();
  }
  await advance(999);
  assert.deepEqual(sent, [], "a room's first moments (joins, first messages) make one report, later");
  await advance(1);
  assert.deepEqual(sent, [100]);
  for (let i = 0; i < 50; i++) {
    state.n++;
    coalescer.touch();
    await advance(20);
  }
  // 50 touches within the next interval: one more report, at the interval boundary, with the latest state.
  await advance(2000);
  assert.deepEqual(sent, [100, 150]);
  state.n++;
  coalescer.touch();
  await advance(0);
  assert.deepEqual(sent, [100, 150, 151], "a touch after a quiet interval reports at once");
  assert.equal(coalescer.counters.sent, 3);
});

test("an unchanged snapshot is not sent", async () => {
  const { coalescer, sent, advance } = harness(async () => undefined);
  coalescer.touch();
  await advance(0);
  coalescer.touch();
  await advance(1000);
  assert.deepEqual(sent, [0]);
  assert.equal(coalescer.counters.unchanged, 1);
});

test("failures are swallowed, counted and retried a few times; a hung send times out", async () => {
  const failing = harness(() => Promise.reject(new Error("directory down")));
  failing.coalescer.touch();
  await failing.advance(10_000);
  assert.equal(failing.coalescer.counters.failed, 4, "the first try and 3 retries");
  assert.equal(failing.sent.length, 4);
  const hung = harness(() => new Promise<void>(() => undefined));
  hung.coalescer.touch();
  await hung.advance(0);
  hung.state.n = 1;
  hung.coalescer.touch();
  await hung.advance(4000);
  assert.equal(hung.sent.length, 1, "one send in flight at a time");
  await hung.advance(1000);
  assert.equal(hung.coalescer.counters.failed, 1, "timed out after 5 s");
});

test("followUp asks for one more report (a rate falls back to 0 without traffic)", async () => {
  let rate = 5;
  const h = harness(async () => undefined, (s) => s.n > 0);
  h.state.n = rate;
  h.coalescer.touch();
  await h.advance(0);
  rate = 0;
  h.state.n = rate;
  await h.advance(1000);
  assert.deepEqual(h.sent, [5, 0]);
  await h.advance(5000);
  assert.deepEqual(h.sent, [5, 0], "no report once the rate is 0");
});

test("a snapshot that throws counts as a failed attempt, is retried an interval later, and never escapes the timer", async () => {
  let failing = true;
  const { coalescer, state, sent, advance } = harness(() => Promise.resolve(), undefined, 1000, () => failing);
  state.n = 1;
  coalescer.touch();
  await advance(0);
  assert.deepEqual(sent, []);
  assert.equal(coalescer.counters.failed, 1);
  failing = false;
  await advance(999);
  assert.deepEqual(sent, [], "not before an interval has passed");
  await advance(1);
  assert.deepEqual(sent, [1], "the retry delivers");
});
