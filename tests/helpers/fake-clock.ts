/**
 * A manual clock for the pure batchers' unit tests (room signals, awareness states): `now` and `schedule` to
 * hand to the code under test, and `advance`, which runs every timer due in order, each at its own time.
 */
export type FakeClock = {
  now(): number;
  schedule(fn: () => void, ms: number): void;
  advance(ms: number): void;
  /** Timers scheduled and not yet run. */
  pending(): number;
};

export function fakeClock(): FakeClock {
  let now = 0;
  const timers: Array<{ at: number; fn: () => void }> = [];
  return {
    now: () => now,
    schedule: (fn, ms) => void timers.push({ at: now + ms, fn }),
    advance(ms) {
      const until = now + ms;
      for (;;) {
        timers.sort((a, b) => a.at - b.at);
        const next = timers[0];
        if (!next || next.at > until) break;
        timers.shift();
        now = next.at;
        next.fn();
      }
      now = until;
    },
    pending: () => timers.length,
  };
}
