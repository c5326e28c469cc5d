/**
 * The client's timers (its `schedule` option, client/timers.ts) on a manual clock, for tests over real sockets:
 * a timer runs only when `advance` passes its due time, so an event-loop stall can fire nothing, and "no retry
 * comes" is shown by advancing far and looking, not by sleeping. (tests/helpers/fake-clock.ts is the same idea
 * for the server's pure batchers, whose timers are not cancellable.)
 */
import type { Schedule } from "../../client/timers.ts";

export type ManualTimer = { at: number; ms: number; fn: () => void; live: boolean };

export function manualSchedule() {
  let now = 0;
  const timers: ManualTimer[] = [];
  const schedule: Schedule = (fn, ms) => {
    const timer = { at: now + ms, ms, fn, live: true };
    timers.push(timer);
    return { cancel: () => void (timer.live = false) };
  };
  const dueBy = (end: number) => timers.filter((t) => t.live && t.at <= end).sort((a, b) => a.at - b.at)[0];
  /** Runs every live timer due within `ms`, in order, each at its own time (a timer may schedule another). */
  const advance = (ms: number) => {
    const end = now + ms;
    for (let next = dueBy(end); next; next = dueBy(end)) {
      now = next.at;
      next.live = false;
      next.fn();
    }
    now = end;
  };
  return { schedule, advance, timers };
}
