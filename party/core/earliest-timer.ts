/**
 * One pending timer, at the earliest moment asked for: a request for later than the armed one is dropped,
 * an earlier one supersedes it (the superseded callback then does nothing). The room's batchers (receipts,
 * presence and typing in room-signals.ts; awareness states in awareness-states.ts) flush once per window and
 * arm this only while something waits, so an idle room holds no timer (no interval keeps it awake).
 *
 * Pure: the clock and the scheduler come in through `port`.
 */
export type TimerPort = {
  now(): number;
  schedule(fn: () => void, ms: number): void;
};

export class EarliestTimer {
  private armedAt: number | undefined;

  constructor(
    private readonly port: TimerPort,
    private readonly fire: () => void,
  ) {}

  /** Runs `fire` at `at` (the port's clock), unless a timer is already armed at or before then. */
  armAt(at: number): void {
    if (this.armedAt !== undefined && this.armedAt <= at) return;
    this.armedAt = at;
    this.port.schedule(() => {
      if (this.armedAt !== at) return; // superseded by an earlier timer
      this.armedAt = undefined;
      this.fire();
    }, at - this.port.now());
  }
}
